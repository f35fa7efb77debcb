//! Compressed runs of zeros for `/bomb/{encoding}`, built in time and memory
//! proportional to the compressed size, not the decoded one.
//!
//! gzip, deflate (zlib) and brotli: one encoder compresses a first unit of zeros, a
//! second unit and the remainder, flushing to a byte boundary between them. The second
//! unit's bytes only copy zeros from earlier output, so repeating them yields more
//! zeros: the answer is `first + second × (units − 1) + rest`. The gzip and zlib
//! checksums of `n` zeros are computed by combining, not by hashing `n` bytes. zstd:
//! one frame of RLE blocks, written by hand. Results are cached per size.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use flate2::Compression;
use flate2::Crc;
use flate2::write::DeflateEncoder;

use crate::counters::lock;
use crate::endpoints::encoded::Coding;

/// Zeros per repeated unit.
const UNIT: u64 = 1 << 20;
/// The most bombs kept; the cache starts over when full.
const CACHE_SIZE: usize = 32;
/// The largest zstd block (with the 128 KiB window declared below).
const ZSTD_BLOCK: u64 = 128 * 1024;

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// `n` zeros compressed with `coding`, from the cache when built before.
pub(crate) fn zeros(coding: Coding, n: u64) -> io::Result<Bytes> {
    static CACHE: OnceLock<Mutex<HashMap<(Coding, u64), Bytes>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(bomb) = lock(cache).get(&(coding, n)) {
        return Ok(bomb.clone());
    }
    let bomb = Bytes::from(build(coding, n)?);
    let mut cache = lock(cache);
    if cache.len() >= CACHE_SIZE {
        cache.clear();
    }
    cache.insert((coding, n), bomb.clone());
    Ok(bomb)
}

fn build(coding: Coding, n: u64) -> io::Result<Vec<u8>> {
    Ok(match coding {
        Coding::Gzip => {
            let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
            out.extend(repeated(DeflateEncoder::new(Vec::new(), Compression::default()), n)?);
            out.extend(crc_of_zeros(n).to_le_bytes());
            // ISIZE is the length modulo 2^32 by definition.
            out.extend((n as u32).to_le_bytes());
            out
        }
        Coding::Deflate => {
            let mut out = vec![0x78, 0x9c];
            out.extend(repeated(DeflateEncoder::new(Vec::new(), Compression::default()), n)?);
            // Adler-32 of zeros: a stays 1, b adds 1 per byte.
            let adler = ((n % 65_521) << 16) | 1;
            out.extend((adler as u32).to_be_bytes());
            out
        }
        Coding::Brotli => repeated(brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22), n)?,
        Coding::Zstd => zstd_rle(n),
    })
}

/// An encoder that writes into a `Vec` and can be finished.
trait Encoder: Write {
    fn written(&self) -> usize;
    fn finish(self) -> io::Result<Vec<u8>>;
}

impl Encoder for DeflateEncoder<Vec<u8>> {
    fn written(&self) -> usize {
        self.get_ref().len()
    }
    fn finish(self) -> io::Result<Vec<u8>> {
        DeflateEncoder::finish(self)
    }
}

impl Encoder for brotli::CompressorWriter<Vec<u8>> {
    fn written(&self) -> usize {
        self.get_ref().len()
    }
    fn finish(self) -> io::Result<Vec<u8>> {
        Ok(self.into_inner())
    }
}

fn write_zeros(encoder: &mut impl Write, mut n: u64) -> io::Result<()> {
    while n > 0 {
        let len = ZEROS.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        encoder.write_all(&ZEROS[..len])?;
        n -= len as u64;
    }
    Ok(())
}

/// The stream of `n` zeros from `encoder`, repeating its second unit (see module docs).
fn repeated(mut encoder: impl Encoder, n: u64) -> io::Result<Vec<u8>> {
    let (units, rest) = (n / UNIT, n % UNIT);
    if units < 2 {
        write_zeros(&mut encoder, n)?;
        return encoder.finish();
    }
    write_zeros(&mut encoder, UNIT)?;
    encoder.flush()?;
    let first = encoder.written();
    write_zeros(&mut encoder, UNIT)?;
    encoder.flush()?;
    let second = encoder.written();
    write_zeros(&mut encoder, rest)?;
    let stream = encoder.finish()?;
    let (head, tail) = stream.split_at(second);
    let (head, unit) = head.split_at(first);
    let times = usize::try_from(units - 1).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(head.len() + unit.len() * times + tail.len());
    out.extend_from_slice(head);
    for _ in 0..times {
        out.extend_from_slice(unit);
    }
    out.extend_from_slice(tail);
    Ok(out)
}

/// CRC-32 of `n` zeros by square-and-multiply over chunk checksums.
fn crc_of_zeros(n: u64) -> u32 {
    let chunk = ZEROS.len() as u64;
    let mut power = Crc::new();
    power.update(&ZEROS);
    let mut acc = Crc::new();
    let mut chunks = n / chunk;
    while chunks > 0 {
        if chunks & 1 == 1 {
            acc.combine(&power);
        }
        let mut doubled = Crc::new();
        doubled.combine(&power);
        doubled.combine(&power);
        power = doubled;
        chunks >>= 1;
    }
    let mut rest = Crc::new();
    rest.update(&ZEROS[..(n % chunk) as usize]);
    acc.combine(&rest);
    acc.sum()
}

/// One zstd frame (RFC 8878) of `n` zeros as RLE blocks: no checksum, the content size
/// declared, a 128 KiB window.
fn zstd_rle(n: u64) -> Vec<u8> {
    let blocks = n.div_ceil(ZSTD_BLOCK).max(1);
    let mut out = Vec::with_capacity(14 + 4 * usize::try_from(blocks).unwrap_or(0));
    out.extend(0xFD2F_B528_u32.to_le_bytes());
    // Frame header descriptor: 8-byte content size, not single-segment, no checksum,
    // no dictionary. Window descriptor: 2^(10 + 7) bytes.
    out.extend([0b1100_0000, 7 << 3]);
    out.extend(n.to_le_bytes());
    if n == 0 {
        // A last raw block of no bytes.
        out.extend([1, 0, 0]);
        return out;
    }
    let mut left = n;
    while left > 0 {
        let size = left.min(ZSTD_BLOCK);
        left -= size;
        let last = u64::from(left == 0);
        // Block header: last flag, type 1 (RLE), size; then the byte to repeat.
        let header = (size << 3) | (1 << 1) | last;
        out.extend(&header.to_le_bytes()[..3]);
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::crc_of_zeros;

    #[test]
    fn crc_of_zeros_matches_hashing() {
        for n in [0_usize, 1, 65_535, 65_536, 65_537, 300_001] {
            let mut crc = flate2::Crc::new();
            crc.update(&vec![0; n]);
            assert_eq!(crc_of_zeros(n as u64), crc.sum(), "n = {n}");
        }
    }
}
