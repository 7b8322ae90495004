//! Integration tests: each starts the real server over mutual TLS and talks to it as a client.

mod helpers;
mod register;
mod security;
