//! natop: a Kubernetes operator for cloud NAT gateways, DNAT/SNAT entries and
//! bandwidth packages (Alibaba Cloud VPC NAT Gateway and UCloud bandwidth packages).

pub mod api;
pub mod cli;
pub mod cloud;
pub mod controller;
pub mod emulator;
pub mod leader;
pub mod metrics;
pub mod server;
pub mod telemetry;
