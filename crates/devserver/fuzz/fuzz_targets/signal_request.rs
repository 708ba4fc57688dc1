#![no_main]
//! Any bytes a client sends as a signal frame must decode or be refused, never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    let _ = convene_devserver::wire::decode_request(frame);
});
