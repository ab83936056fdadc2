//! TODO

use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct ApacheJames;

impl Decoder for ApacheJames {
    fn name(&self) -> &'static str {
        "ApacheJames"
    }

    fn decode(&self, _mail: &Mail) -> Option<Vec<Delivery>> {
        None
    }
}
