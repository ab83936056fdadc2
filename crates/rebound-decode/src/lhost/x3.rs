//! TODO

use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct X3;

impl Decoder for X3 {
    fn name(&self) -> &'static str {
        "X3"
    }

    fn decode(&self, _mail: &Mail) -> Option<Vec<Delivery>> {
        None
    }
}
