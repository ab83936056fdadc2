//! TODO

use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct X6;

impl Decoder for X6 {
    fn name(&self) -> &'static str {
        "X6"
    }

    fn decode(&self, _mail: &Mail) -> Option<Vec<Delivery>> {
        None
    }
}
