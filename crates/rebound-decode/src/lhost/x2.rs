//! TODO

use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct X2;

impl Decoder for X2 {
    fn name(&self) -> &'static str {
        "X2"
    }

    fn decode(&self, _mail: &Mail) -> Option<Vec<Delivery>> {
        None
    }
}
