//! Shared test support.
#![allow(dead_code)]

pub mod cloud;
pub mod cluster;
pub mod objects;
pub mod operator;
pub mod process;
pub mod scripted;
