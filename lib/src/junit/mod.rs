//! JUnit XML: how a test id and a reported test case name each other, and the time values
//! reports carry. (The streaming reader and writer join these for shard-merge.)

pub mod matching;
pub mod time;
