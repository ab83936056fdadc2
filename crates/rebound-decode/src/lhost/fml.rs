//! TODO

use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct Fml;

impl Decoder for Fml {
    fn name(&self) -> &'static str {
        "FML"
    }

    fn decode(&self, _mail: &Mail) -> Option<Vec<Delivery>> {
        None
    }
}
