//! The composition root of the `ferry` program.

pub mod autostart;
