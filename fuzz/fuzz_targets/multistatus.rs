//! Fuzz the WebDAV multistatus parser: any bytes must give items or an
//! error, never a panic, a hang or unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ferry::remote::webdav::xml::parse_multistatus(data);
});
