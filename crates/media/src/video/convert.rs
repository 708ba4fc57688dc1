//! Camera pictures to I420 (what the encoders take) and I420 to RGBA (what a screen shows).
//!
//! Cameras deliver packed YUYV, semi-planar NV12, MJPEG or RGB depending on model and
//! resolution; everything after capture works on [`I420Frame`]. Odd sizes are cropped to
//! even ones (4:2:0 chroma covers 2x2 pixels). BT.601 limited range throughout, as webcams
//! and WebRTC use it.

use yuvutils_rs::{
    YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut, YuvRange, YuvStandardMatrix,
};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use super::I420Frame;

const RANGE: YuvRange = YuvRange::Limited;
const MATRIX: YuvStandardMatrix = YuvStandardMatrix::Bt601;

/// The layout of a captured picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PixelFormat {
    /// Packed 4:2:2, `Y0 U Y1 V` per two pixels (most USB webcams' raw mode).
    Yuyv,
    /// Planar Y, then interleaved `U V` at half resolution (many laptop cameras).
    Nv12,
    /// Motion JPEG: each frame a JPEG file (webcams at HD resolutions).
    Mjpeg,
    /// Packed 8-bit `R G B`.
    Rgb24,
    /// Packed 8-bit `R G B A`.
    Rgba,
    /// Planar I420 already.
    I420,
}

/// A captured picture as the device delivered it.
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    /// Its layout.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The bytes (tightly packed rows; for MJPEG the JPEG file).
    pub data: &'a [u8],
}

/// Why a picture could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// Width or height below 2 pixels.
    #[error("a {width}x{height} picture is too small to convert")]
    TooSmall {
        /// Width given.
        width: usize,
        /// Height given.
        height: usize,
    },
    /// Fewer bytes than the format needs at this size (a truncated capture).
    #[error("{format:?} at this size needs {expected} bytes, got {actual}")]
    ShortBuffer {
        /// The format.
        format: PixelFormat,
        /// Bytes needed.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The MJPEG frame is not a decodable JPEG.
    #[error("corrupt MJPEG frame: {0}")]
    Jpeg(String),
    /// The converter refused the geometry.
    #[error("conversion failed: {0}")]
    Convert(String),
}

/// Converts any supported capture format to I420, cropping odd sizes to even.
pub fn to_i420(raw: &RawFrame<'_>) -> Result<I420Frame, ConvertError> {
    if raw.format == PixelFormat::Mjpeg {
        return mjpeg_to_i420(raw.data);
    }
    let (width, height) = (raw.width & !1, raw.height & !1);
    if width < 2 || height < 2 {
        return Err(ConvertError::TooSmall {
            width: raw.width,
            height: raw.height,
        });
    }
    let expected = match raw.format {
        PixelFormat::Yuyv => raw.width * raw.height * 2,
        PixelFormat::Nv12 | PixelFormat::I420 => raw.width * raw.height * 3 / 2,
        PixelFormat::Rgb24 => raw.width * raw.height * 3,
        PixelFormat::Rgba => raw.width * raw.height * 4,
        PixelFormat::Mjpeg => 0,
    };
    if raw.data.len() < expected {
        return Err(ConvertError::ShortBuffer {
            format: raw.format,
            expected,
            actual: raw.data.len(),
        });
    }
    let mut frame = I420Frame::filled(width, height, 0, 0, 0);
    match raw.format {
        PixelFormat::Yuyv => yuyv_into(raw, &mut frame),
        PixelFormat::Nv12 => nv12_into(raw, &mut frame),
        PixelFormat::I420 => i420_into(raw, &mut frame),
        PixelFormat::Rgb24 => rgb_into(raw.data, raw.width * 3, 3, &mut frame)?,
        PixelFormat::Rgba => rgb_into(raw.data, raw.width * 4, 4, &mut frame)?,
        PixelFormat::Mjpeg => {}
    }
    Ok(frame)
}

/// RGBA pixels (`width * height * 4` bytes) of a frame, for drawing it.
pub fn i420_to_rgba(frame: &I420Frame) -> Result<Vec<u8>, ConvertError> {
    let mut rgba = vec![0; frame.width * frame.height * 4];
    let image = YuvPlanarImage {
        y_plane: &frame.y,
        y_stride: dimension(frame.width)?,
        u_plane: &frame.u,
        u_stride: dimension(frame.width / 2)?,
        v_plane: &frame.v,
        v_stride: dimension(frame.width / 2)?,
        width: dimension(frame.width)?,
        height: dimension(frame.height)?,
    };
    let stride = dimension(frame.width * 4)?;
    yuvutils_rs::yuv420_to_rgba(&image, &mut rgba, stride, RANGE, MATRIX).map_err(convert_error)?;
    Ok(rgba)
}

fn mjpeg_to_i420(jpeg: &[u8]) -> Result<I420Frame, ConvertError> {
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    let rgb = decoder
        .decode()
        .map_err(|error| ConvertError::Jpeg(format!("{error:?}")))?;
    let info = decoder
        .info()
        .ok_or_else(|| ConvertError::Jpeg("no image header".to_owned()))?;
    to_i420(&RawFrame {
        format: PixelFormat::Rgb24,
        width: usize::from(info.width),
        height: usize::from(info.height),
        data: &rgb,
    })
}

/// YUYV by hand: yuvutils-rs 0.8.3 leaves the last pixels of each row unwritten at some
/// widths (320 lost 16). Chroma of each pair of rows is averaged.
fn yuyv_into(raw: &RawFrame<'_>, frame: &mut I420Frame) {
    let stride = raw.width * 2;
    let chroma_width = frame.width / 2;
    for row in 0..frame.height {
        let source = &raw.data[row * stride..][..frame.width * 2];
        let luma = &mut frame.y[row * frame.width..][..frame.width];
        for (pixels, quad) in luma.chunks_exact_mut(2).zip(source.chunks_exact(4)) {
            (pixels[0], pixels[1]) = (quad[0], quad[2]);
        }
    }
    for chroma_row in 0..frame.height / 2 {
        let top = &raw.data[2 * chroma_row * stride..][..frame.width * 2];
        let bottom = &raw.data[(2 * chroma_row + 1) * stride..][..frame.width * 2];
        let target = chroma_row * chroma_width..(chroma_row + 1) * chroma_width;
        let (u, v) = (&mut frame.u[target.clone()], &mut frame.v[target]);
        for (i, (a, b)) in top.chunks_exact(4).zip(bottom.chunks_exact(4)).enumerate() {
            u[i] = average(a[1], b[1]);
            v[i] = average(a[3], b[3]);
        }
    }
}

fn average(a: u8, b: u8) -> u8 {
    (u16::from(a) + u16::from(b)).div_ceil(2) as u8
}

fn nv12_into(raw: &RawFrame<'_>, frame: &mut I420Frame) {
    copy_rows(raw.data, raw.width, &mut frame.y, frame.width, frame.height);
    let chroma = &raw.data[raw.width * raw.height..];
    let chroma_width = frame.width / 2;
    for row in 0..frame.height / 2 {
        let source = &chroma[row * (raw.width & !1)..][..frame.width];
        let target = row * chroma_width..(row + 1) * chroma_width;
        for ((pair, u), v) in source
            .chunks_exact(2)
            .zip(&mut frame.u[target.clone()])
            .zip(&mut frame.v[target])
        {
            (*u, *v) = (pair[0], pair[1]);
        }
    }
}

fn i420_into(raw: &RawFrame<'_>, frame: &mut I420Frame) {
    let source_chroma = raw.width.div_ceil(2);
    let chroma_rows = raw.height.div_ceil(2);
    let (luma, chroma) = raw.data.split_at(raw.width * raw.height);
    let (u, v) = chroma.split_at(source_chroma * chroma_rows);
    let (width, height) = (frame.width, frame.height);
    copy_rows(luma, raw.width, &mut frame.y, width, height);
    copy_rows(u, source_chroma, &mut frame.u, width / 2, height / 2);
    copy_rows(v, source_chroma, &mut frame.v, width / 2, height / 2);
}

fn rgb_into(
    pixels: &[u8],
    stride: usize,
    channels: usize,
    frame: &mut I420Frame,
) -> Result<(), ConvertError> {
    let stride = dimension(stride)?;
    let mut planar = planar_mut(frame)?;
    let mode = YuvConversionMode::Balanced;
    let result = if channels == 4 {
        yuvutils_rs::rgba_to_yuv420(&mut planar, pixels, stride, RANGE, MATRIX, mode)
    } else {
        yuvutils_rs::rgb_to_yuv420(&mut planar, pixels, stride, RANGE, MATRIX, mode)
    };
    result.map_err(convert_error)
}

fn planar_mut(frame: &mut I420Frame) -> Result<YuvPlanarImageMut<'_, u8>, ConvertError> {
    let (width, chroma_width) = (dimension(frame.width)?, dimension(frame.width / 2)?);
    Ok(YuvPlanarImageMut {
        y_plane: yuvutils_rs::BufferStoreMut::Borrowed(&mut frame.y),
        y_stride: width,
        u_plane: yuvutils_rs::BufferStoreMut::Borrowed(&mut frame.u),
        u_stride: chroma_width,
        v_plane: yuvutils_rs::BufferStoreMut::Borrowed(&mut frame.v),
        v_stride: chroma_width,
        width,
        height: dimension(frame.height)?,
    })
}

/// Copies `rows` rows of `width` bytes from a plane with `source_stride` bytes per row.
fn copy_rows(source: &[u8], source_stride: usize, target: &mut [u8], width: usize, rows: usize) {
    for (row, target_row) in target.chunks_exact_mut(width).take(rows).enumerate() {
        target_row.copy_from_slice(&source[row * source_stride..][..width]);
    }
}

fn dimension(value: usize) -> Result<u32, ConvertError> {
    u32::try_from(value).map_err(|_| ConvertError::Convert(format!("{value} is too large")))
}

fn convert_error(error: yuvutils_rs::YuvError) -> ConvertError {
    ConvertError::Convert(error.to_string())
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
