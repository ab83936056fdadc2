//! TODO

use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct X1;

impl Decoder for X1 {
    fn name(&self) -> &'static str {
        "X1"
    }

    fn decode(&self, _mail: &Mail) -> Option<Vec<Delivery>> {
        None
    }
}
