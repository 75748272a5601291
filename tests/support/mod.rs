//! Shared test support.
#![allow(dead_code)]

pub mod cluster;
pub mod operator;
pub mod process;
pub mod scripted;
