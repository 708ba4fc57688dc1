//! Raw video: I420 frames as the encoders take them (planar Y, then U and V at half
//! resolution), conversion from camera formats ([`convert`]), and the capture thread that
//! pulls frames from a camera or the test pattern ([`source`]).

/// One I420 picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I420Frame {
    /// Width in pixels (even).
    pub width: usize,
    /// Height in pixels (even).
    pub height: usize,
    /// Luma, `width * height` bytes.
    pub y: Vec<u8>,
    /// Blue-difference chroma, `(width / 2) * (height / 2)` bytes.
    pub u: Vec<u8>,
    /// Red-difference chroma, `(width / 2) * (height / 2)` bytes.
    pub v: Vec<u8>,
}

impl I420Frame {
    /// A frame of one colour (`y`, `u`, `v` values).
    pub fn filled(width: usize, height: usize, y: u8, u: u8, v: u8) -> Self {
        let (width, height) = (width & !1, height & !1);
        let chroma = (width / 2) * (height / 2);
        Self {
            width,
            height,
            y: vec![y; width * height],
            u: vec![u; chroma],
            v: vec![v; chroma],
        }
    }

    /// The mean of each plane: a frame's overall colour, for checks after a codec.
    pub fn mean_yuv(&self) -> (f32, f32, f32) {
        let mean = |plane: &[u8]| {
            plane.iter().map(|&p| f32::from(p)).sum::<f32>() / plane.len().max(1) as f32
        };
        (mean(&self.y), mean(&self.u), mean(&self.v))
    }
}

pub mod camera;
pub mod convert;
pub mod source;
