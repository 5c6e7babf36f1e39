//! JUnit XML: how a test id and a reported test case name each other, the time values reports
//! carry, and character data made safe for every XML 1.0 parser. (The streaming reader and
//! writer join these for shard-merge.)

pub mod matching;
pub mod reader;
pub mod sanitize;
pub mod time;
pub mod writer;
