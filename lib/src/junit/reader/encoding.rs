//! Reports in the encoding they declare, as an XML parser reads them: the input's first bytes
//! (a byte order mark, the shape of `<?xml` in UTF-16, or the XML declaration's `encoding`)
//! tell its encoding, and whatever is not UTF-8 is decoded to UTF-8 as it is read. The reader
//! only ever sees UTF-8, and its byte offsets are offsets in that UTF-8.

use std::io::{self, Read};

use encoding_rs::{CoderResult, Encoding, REPLACEMENT, UTF_8, UTF_16BE, UTF_16LE};

/// How far into the input the XML declaration must end to be read for its encoding.
const SNIFF: usize = 1024;

/// Raw bytes decoded at once.
const RAW: usize = 64 * 1024;

/// An input read as UTF-8, decoded from the encoding it declares.
pub struct Decoded<R> {
    inner: R,
    state: State,
}

enum State {
    /// Nothing read yet: the first bytes will tell the encoding.
    Sniffing,
    /// UTF-8 already: the bytes as they are, after the ones read to tell.
    Plain { ahead: Vec<u8>, at: usize },
    /// Decoded as it is read.
    Decoding(Box<Decoding>),
}

struct Decoding {
    /// The encoding's name.
    name: &'static str,
    decoder: Decoder,
    raw: Vec<u8>,
    /// Raw bytes not decoded yet: `raw[start..end]`.
    start: usize,
    end: usize,
    /// The input has no more raw bytes.
    done: bool,
    /// Decoded bytes not handed out yet: `out[out_start..out_end]`.
    out: Vec<u8>,
    out_start: usize,
    out_end: usize,
    /// Everything is decoded and handed to `out`.
    finished: bool,
    /// Bytes malformed in the encoding were read as U+FFFD.
    replaced: bool,
}

impl<R> std::fmt::Debug for Decoded<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Sniffing => "not told yet",
            State::Plain { .. } => "UTF-8",
            State::Decoding(d) => d.name,
        };
        f.debug_struct("Decoded")
            .field("encoding", &state)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Decoded<R> {
    /// Reads `inner` in the encoding its first bytes tell.
    pub fn new(inner: R) -> Self {
        Decoded {
            inner,
            state: State::Sniffing,
        }
    }

    /// Reads `inner` as UTF-8 whatever it says (a part of an input already told).
    pub fn plain(inner: R) -> Self {
        Decoded {
            inner,
            state: State::Plain {
                ahead: Vec::new(),
                at: 0,
            },
        }
    }

    /// The name of the encoding decoded from, once the first read has told it; `None` for
    /// UTF-8.
    pub fn encoding(&self) -> Option<&'static str> {
        match &self.state {
            State::Decoding(d) => Some(d.name),
            _ => None,
        }
    }

    /// Whether bytes malformed in the encoding (an unpaired UTF-16 surrogate, an odd byte at
    /// the end) were read as U+FFFD, the replacement character.
    pub fn replaced(&self) -> bool {
        matches!(&self.state, State::Decoding(d) if d.replaced)
    }

    fn sniff(&mut self) -> io::Result<()> {
        let mut ahead = Vec::with_capacity(SNIFF);
        while ahead.len() < SNIFF {
            let mut chunk = [0; SNIFF];
            let want = SNIFF - ahead.len();
            let n = self.inner.read(&mut chunk[..want])?;
            if n == 0 {
                break;
            }
            ahead.extend_from_slice(&chunk[..n]);
            if ahead.starts_with(b"<?xml") && ahead.windows(2).any(|w| w == b"?>") {
                break;
            }
        }
        self.state = match encoding_of(&ahead)? {
            None => State::Plain { ahead, at: 0 },
            Some(told) => {
                let mut raw = ahead;
                let end = raw.len();
                raw.resize(end.max(RAW), 0);
                State::Decoding(Box::new(Decoding {
                    name: told.name(),
                    decoder: told.decoder(),
                    raw,
                    start: 0,
                    end,
                    done: false,
                    out: vec![0; 3 * RAW + 16],
                    out_start: 0,
                    out_end: 0,
                    finished: false,
                    replaced: false,
                }))
            }
        };
        Ok(())
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if matches!(self.state, State::Sniffing) {
            self.sniff()?;
        }
        match &mut self.state {
            State::Sniffing => unreachable!("told above"),
            State::Plain { ahead, at } => {
                if *at < ahead.len() {
                    let n = (ahead.len() - *at).min(out.len());
                    out[..n].copy_from_slice(&ahead[*at..*at + n]);
                    *at += n;
                    if *at == ahead.len() {
                        *ahead = Vec::new();
                        *at = 0;
                    }
                    return Ok(n);
                }
                self.inner.read(out)
            }
            State::Decoding(d) => d.read(&mut self.inner, out),
        }
    }
}

impl<R: Read + io::Seek> io::Seek for Decoded<R> {
    /// Only an input read as it is can be sought in.
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        match &mut self.state {
            State::Plain { ahead, at } => {
                *ahead = Vec::new();
                *at = 0;
                self.inner.seek(to)
            }
            _ => Err(io::Error::other(
                "internal: a decoded input cannot be sought in",
            )),
        }
    }
}

impl Decoding {
    fn read(&mut self, inner: &mut impl Read, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_start < self.out_end {
                let n = (self.out_end - self.out_start).min(out.len());
                out[..n].copy_from_slice(&self.out[self.out_start..self.out_start + n]);
                self.out_start += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            if self.start == self.end && !self.done {
                self.start = 0;
                self.end = inner.read(&mut self.raw)?;
                self.done = self.end == 0;
            }
            let (result, read, written, replaced) =
                self.decoder
                    .decode(&self.raw[self.start..self.end], &mut self.out, self.done);
            self.replaced |= replaced;
            self.start += read;
            self.out_start = 0;
            self.out_end = written;
            self.finished = self.done && result == CoderResult::InputEmpty;
        }
    }
}

/// How to decode: an encoding of the WHATWG Encoding Standard, or ISO-8859-1 itself (which the
/// standard reads as windows-1252, where an XML parser reads bytes 0x80 to 0x9F as U+0080 to
/// U+009F).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    Whatwg(&'static Encoding),
    Latin1,
}

impl Told {
    fn name(self) -> &'static str {
        match self {
            Told::Whatwg(e) => e.name(),
            Told::Latin1 => "ISO-8859-1",
        }
    }

    fn decoder(self) -> Decoder {
        match self {
            Told::Whatwg(e) => Decoder::Whatwg(e.new_decoder_with_bom_removal()),
            Told::Latin1 => Decoder::Latin1,
        }
    }
}

/// A decoder of raw bytes into UTF-8.
enum Decoder {
    Whatwg(encoding_rs::Decoder),
    Latin1,
}

impl Decoder {
    /// Decodes what of `raw` fits into `out` (at least a third of it, as `out` is sized):
    /// whether all of `raw` is read, the bytes read and the bytes written, and whether
    /// malformed bytes were replaced.
    fn decode(
        &mut self,
        raw: &[u8],
        out: &mut [u8],
        last: bool,
    ) -> (CoderResult, usize, usize, bool) {
        match self {
            Decoder::Whatwg(d) => d.decode_to_utf8(raw, out, last),
            Decoder::Latin1 => {
                let (mut read, mut written) = (0, 0);
                for &byte in raw {
                    if written + 2 > out.len() {
                        return (CoderResult::OutputFull, read, written, false);
                    }
                    let c = char::from(byte);
                    written += c.encode_utf8(&mut out[written..]).len();
                    read += 1;
                }
                (CoderResult::InputEmpty, read, written, false)
            }
        }
    }
}

/// The encoding the input's first bytes tell, `None` for UTF-8 (which needs no decoding).
fn encoding_of(ahead: &[u8]) -> io::Result<Option<Told>> {
    if let Some((encoding, _)) = Encoding::for_bom(ahead) {
        return Ok((encoding != UTF_8).then_some(Told::Whatwg(encoding)));
    }
    // `<?` in UTF-16 with no byte order mark.
    if ahead.starts_with(&[b'<', 0, b'?', 0]) {
        return Ok(Some(Told::Whatwg(UTF_16LE)));
    }
    if ahead.starts_with(&[0, b'<', 0, b'?']) {
        return Ok(Some(Told::Whatwg(UTF_16BE)));
    }
    let Some(label) = declared(ahead) else {
        return Ok(None);
    };
    let latin1 = [
        "iso-8859-1",
        "iso8859-1",
        "iso_8859-1",
        "latin1",
        "l1",
        "cp819",
        "ibm819",
        "iso-ir-100",
        "csisolatin1",
        "iso_8859-1:1987",
        "8859_1",
        "iso8859_1",
    ];
    if latin1.iter().any(|l| l.eq_ignore_ascii_case(label.trim())) {
        return Ok(Some(Told::Latin1));
    }
    match Encoding::for_label(label.as_bytes()) {
        // Declared UTF-16, but read as ASCII to find that out: the bytes are not UTF-16.
        Some(e) if e == UTF_8 || e == UTF_16LE || e == UTF_16BE => Ok(None),
        Some(e) if e != REPLACEMENT => Ok(Some(Told::Whatwg(e))),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the report declares encoding=\"{label}\", which is not an encoding this reader knows"
            ),
        )),
    }
}

/// The `encoding` the XML declaration at the start of `ahead` names, if it names one.
fn declared(ahead: &[u8]) -> Option<String> {
    let declaration = ahead.strip_prefix(b"<?xml")?;
    let end = declaration.windows(2).position(|w| w == b"?>")?;
    let declaration = std::str::from_utf8(&declaration[..end]).ok()?;
    let rest = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(bytes: &[u8]) -> io::Result<String> {
        let mut out = String::new();
        Decoded::new(bytes).read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn utf8_is_read_as_it_is_bom_and_all() {
        let text = "\u{feff}<?xml version=\"1.0\"?><a>é</a>";
        assert_eq!(decoded(text.as_bytes()).unwrap(), text);
        let declared = "<?xml version=\"1.0\" encoding='utf-8'?><a>é</a>";
        assert_eq!(decoded(declared.as_bytes()).unwrap(), declared);
        assert_eq!(decoded(b"").unwrap(), "");
    }

    #[test]
    fn latin1_and_windows_1252_are_decoded_as_they_declare() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9</a>";
        assert!(decoded(latin1).unwrap().ends_with("<a>café</a>"));
        // ISO-8859-1 is itself, not windows-1252: 0x80 is U+0080, as an XML parser reads it.
        let c1 = b"<?xml version=\"1.0\" encoding=\"latin1\"?><a>\x80</a>";
        assert!(decoded(c1).unwrap().ends_with("<a>\u{80}</a>"));
        let cp1252 = b"<?xml version='1.0' encoding='windows-1252'?><a>\x80</a>";
        assert!(decoded(cp1252).unwrap().ends_with("<a>€</a>"));
        let latin9 = b"<?xml version=\"1.0\" encoding = \"iso-8859-15\" ?><a>\xa4</a>";
        assert!(decoded(latin9).unwrap().ends_with("<a>€</a>"));
    }

    #[test]
    fn utf16_is_decoded_with_or_without_its_byte_order_mark() {
        let text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a>é</a>";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        for (bom, body) in [(&[0xff, 0xfe][..], &le), (&[0xfe, 0xff][..], &be)] {
            assert_eq!(decoded(body).unwrap(), text);
            let with_bom = [bom, body].concat();
            assert_eq!(decoded(&with_bom).unwrap(), text);
        }
    }

    #[test]
    fn an_encoding_it_does_not_know_is_an_error_that_names_it() {
        let error = decoded(b"<?xml version=\"1.0\" encoding=\"EBCDIC-US\"?><a/>").unwrap_err();
        assert!(
            error.to_string().contains("encoding=\"EBCDIC-US\""),
            "{error}"
        );
    }

    #[test]
    fn a_long_input_is_decoded_across_buffers() {
        let mut latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>".to_vec();
        latin1.extend(std::iter::repeat_n(0xe9, 3 * RAW + 7));
        latin1.extend_from_slice(b"</a>");
        let text = decoded(&latin1).unwrap();
        assert_eq!(text.matches('é').count(), 3 * RAW + 7);
        assert!(text.ends_with("</a>"));
    }
}
