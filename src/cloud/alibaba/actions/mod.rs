//! Typed requests and responses for every Alibaba action natop uses, one module
//! per resource family, named as on the wire.

pub mod bandwidth_package;
pub mod eip;
pub mod forward_entry;
pub mod ipv6;
pub mod nat_gateway;
pub mod snat_entry;
pub mod sts;
pub mod tag;
