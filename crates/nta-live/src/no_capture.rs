//! Without libpcap: the same API, every call answering [`LiveError::NotBuilt`].

use crate::{InterfaceInfo, LiveError, LiveOptions, LiveStats, PacketSource, RawPacket};
use nta_capture::LinkType;

/// A live capture (this build has no libpcap: it cannot be opened).
#[derive(Debug)]
pub struct LiveCapture {
    never: std::convert::Infallible,
}

impl LiveCapture {
    /// Answers [`LiveError::NotBuilt`] (after checking the options, as the real one does).
    pub fn open(_interface: &str, options: &LiveOptions) -> Result<LiveCapture, LiveError> {
        options.validate()?;
        Err(LiveError::NotBuilt)
    }

    /// Answers [`LiveError::NotBuilt`] (after checking the options, as the real one does).
    pub fn open_many(_interfaces: &[String], options: &LiveOptions) -> Result<LiveCapture, LiveError> {
        options.validate()?;
        Err(LiveError::NotBuilt)
    }

    /// The interface's name.
    pub fn interface(&self) -> &str {
        match self.never {}
    }
}

impl PacketSource for LiveCapture {
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, LiveError> {
        match self.never {}
    }

    fn link_type(&self) -> LinkType {
        match self.never {}
    }

    fn snaplen(&self) -> u32 {
        match self.never {}
    }

    fn stats(&mut self) -> Result<LiveStats, LiveError> {
        match self.never {}
    }
}

/// Answers [`LiveError::NotBuilt`].
pub fn interfaces() -> Result<Vec<InterfaceInfo>, LiveError> {
    Err(LiveError::NotBuilt)
}
