//! JUnit XML, streamed: a reader and a writer that keep memory bounded whatever the input's
//! size, character data made safe for every XML 1.0 parser, the test cases of a report, how a
//! planned test id and a reported case name each other, and the time values reports carry.

pub mod cases;
pub mod matching;
pub mod reader;
pub mod sanitize;
pub mod time;
pub mod writer;
