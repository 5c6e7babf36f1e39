//! Placing a byte offset: the line and column an error message names, found by reading the
//! input again (the reader itself counts only bytes).

use std::io::{self, Read};

use super::CHUNK;

/// The 1-based line and column (in bytes) of byte `offset` of `input`, for error messages: the
/// reader reports offsets, and the input is read again to place them.
pub fn locate(input: impl Read, offset: u64) -> io::Result<(u64, u64)> {
    Ok(locate_all(input, &[offset])?[0])
}

/// [`locate`] for several offsets, in any order, reading the input once.
pub fn locate_all(mut input: impl Read, offsets: &[u64]) -> io::Result<Vec<(u64, u64)>> {
    let mut order: Vec<usize> = (0..offsets.len()).collect();
    order.sort_by_key(|&i| offsets[i]);
    let mut places = vec![(0, 0); offsets.len()];
    let mut line = 1u64;
    let mut line_start = 0u64;
    let mut at = 0u64;
    let mut buf = vec![0u8; CHUNK];
    for i in order {
        let offset = offsets[i];
        while at < offset {
            let want = usize::try_from(offset - at).map_or(buf.len(), |w| w.min(buf.len()));
            let n = input.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            for (j, &b) in buf[..n].iter().enumerate() {
                if b == b'\n' {
                    line += 1;
                    line_start = at + j as u64 + 1;
                }
            }
            at += n as u64;
        }
        places[i] = (line, at.min(offset) - line_start + 1);
    }
    Ok(places)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::reader::tests::events;

    #[test]
    fn offsets_become_lines_and_columns() {
        let xml = b"<testsuite>\n  <testcase>\n    bad \xff\n</testsuite>";
        let e = events(xml).unwrap_err();
        assert_eq!(locate(&xml[..], e.offset).unwrap(), (3, 9));
        assert_eq!(locate(&b"abc"[..], 0).unwrap(), (1, 1));
        assert_eq!(locate(&b"a\nb"[..], 2).unwrap(), (2, 1));
    }
}
