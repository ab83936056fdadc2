//! TODO

use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct X4;

impl Decoder for X4 {
    fn name(&self) -> &'static str {
        "X4"
    }

    fn decode(&self, _mail: &Mail) -> Option<Vec<Delivery>> {
        None
    }
}
