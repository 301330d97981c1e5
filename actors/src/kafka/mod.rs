//! Everything that talks to Kafka through rdkafka, apart from the data path's hot loops: client
//! construction ([`clients`]), why a secured cluster cannot be reached ([`connection`]), admin operations
//! ([`admin`], with the few rust-rdkafka lacks in [`native_admin`]), error sorting ([`errors`]), consumer-group
//! offsets ([`groups`]), producing control records ([`produce`]), reading small
//! internal topics whole ([`read_to_end`]), which source topics may not be read ([`read_access`]) and source log start and end offsets ([`source_offsets`]).

pub mod admin;
pub mod clients;
pub mod connection;
pub mod errors;
pub mod groups;
pub mod native_admin;
pub mod produce;
pub mod read_access;
pub mod read_to_end;
pub mod source_offsets;
