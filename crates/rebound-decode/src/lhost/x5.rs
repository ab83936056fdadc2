//! TODO

use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct X5;

impl Decoder for X5 {
    fn name(&self) -> &'static str {
        "X5"
    }

    fn decode(&self, _mail: &Mail) -> Option<Vec<Delivery>> {
        None
    }
}
