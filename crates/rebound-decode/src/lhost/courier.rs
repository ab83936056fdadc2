//! TODO

use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct Courier;

impl Decoder for Courier {
    fn name(&self) -> &'static str {
        "Courier"
    }

    fn decode(&self, _mail: &Mail) -> Option<Vec<Delivery>> {
        None
    }
}
