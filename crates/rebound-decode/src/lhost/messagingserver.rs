//! TODO

use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct MessagingServer;

impl Decoder for MessagingServer {
    fn name(&self) -> &'static str {
        "MessagingServer"
    }

    fn decode(&self, _mail: &Mail) -> Option<Vec<Delivery>> {
        None
    }
}
