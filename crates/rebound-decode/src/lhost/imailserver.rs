//! TODO

use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct IMailServer;

impl Decoder for IMailServer {
    fn name(&self) -> &'static str {
        "IMailServer"
    }

    fn decode(&self, _mail: &Mail) -> Option<Vec<Delivery>> {
        None
    }
}
