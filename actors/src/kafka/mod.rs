//! Everything that talks to Kafka through rdkafka, apart from the data path's hot loops: client
//! construction ([`clients`]), admin operations ([`admin`]) and error sorting ([`errors`]).

pub mod admin;
pub mod clients;
pub mod errors;
