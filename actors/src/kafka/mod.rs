//! Everything that talks to Kafka through rdkafka, apart from the data path's hot loops: client
//! construction ([`clients`]), admin operations ([`admin`]), error sorting ([`errors`]), consumer-group
//! offsets ([`groups`]), producing control records ([`produce`]), reading small
//! internal topics whole ([`read_to_end`]) and source log start offsets ([`log_start`]).

pub mod admin;
pub mod clients;
pub mod errors;
pub mod groups;
pub mod log_start;
pub mod produce;
pub mod read_to_end;
