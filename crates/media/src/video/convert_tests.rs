//! Every capture format, built from a known test-pattern frame, converts back to it.

use super::*;
use crate::synthetic::TestPattern;

const WIDTH: usize = 320;
const HEIGHT: usize = 180;

fn pattern() -> (TestPattern, I420Frame) {
    let mut pattern = TestPattern::new(WIDTH, HEIGHT);
    let frame = pattern.next_frame(1_234_567);
    (pattern, frame)
}

fn yuyv_of(frame: &I420Frame) -> Vec<u8> {
    let mut packed = Vec::with_capacity(frame.width * frame.height * 2);
    for row in 0..frame.height {
        for pair in 0..frame.width / 2 {
            let chroma = (row / 2) * (frame.width / 2) + pair;
            let luma = row * frame.width + pair * 2;
            packed.extend_from_slice(&[
                frame.y[luma],
                frame.u[chroma],
                frame.y[luma + 1],
                frame.v[chroma],
            ]);
        }
    }
    packed
}

fn nv12_of(frame: &I420Frame) -> Vec<u8> {
    let mut data = frame.y.clone();
    for (u, v) in frame.u.iter().zip(&frame.v) {
        data.extend_from_slice(&[*u, *v]);
    }
    data
}

fn rgb_of(frame: &I420Frame) -> Vec<u8> {
    let rgba = i420_to_rgba(frame).expect("rgba");
    rgba.chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect()
}

/// Plane by plane, reporting the first difference instead of printing whole frames.
fn assert_same(converted: &I420Frame, original: &I420Frame) {
    assert_eq!(
        (converted.width, converted.height),
        (original.width, original.height)
    );
    for (name, a, b) in [
        ("y", &converted.y, &original.y),
        ("u", &converted.u, &original.u),
        ("v", &converted.v, &original.v),
    ] {
        let first = a.iter().zip(b.iter()).position(|(x, y)| x != y);
        assert_eq!(first, None, "{name} plane differs at {first:?}");
    }
}

fn assert_close(converted: &I420Frame, original: &I420Frame, pattern: &TestPattern) {
    assert_eq!((converted.width, converted.height), (WIDTH, HEIGHT));
    let (a, b) = (converted.mean_yuv(), original.mean_yuv());
    // Luma survives RGB closely; strongly saturated chroma is clipped to the RGB gamut.
    assert!((a.0 - b.0).abs() < 3.0, "means {a:?} vs {b:?}");
    assert!(
        (a.1 - b.1).abs() < 8.0 && (a.2 - b.2).abs() < 8.0,
        "means {a:?} vs {b:?}"
    );
    assert_eq!(pattern.read(converted), pattern.read(original));
    assert!(pattern.read(converted).is_some());
}

#[test]
fn yuyv_and_nv12_convert_exactly() {
    let (_, frame) = pattern();
    let yuyv = yuyv_of(&frame);
    let converted = to_i420(&RawFrame {
        format: PixelFormat::Yuyv,
        width: WIDTH,
        height: HEIGHT,
        data: &yuyv,
    })
    .expect("yuyv");
    assert_same(&converted, &frame);
    let nv12 = nv12_of(&frame);
    let converted = to_i420(&RawFrame {
        format: PixelFormat::Nv12,
        width: WIDTH,
        height: HEIGHT,
        data: &nv12,
    })
    .expect("nv12");
    assert_same(&converted, &frame);
}

#[test]
fn rgb_and_mjpeg_keep_the_colour_and_the_stamp() {
    let (pattern, frame) = pattern();
    let rgb = rgb_of(&frame);
    let converted = to_i420(&RawFrame {
        format: PixelFormat::Rgb24,
        width: WIDTH,
        height: HEIGHT,
        data: &rgb,
    })
    .expect("rgb");
    assert_close(&converted, &frame, &pattern);

    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85)
        .encode(
            &rgb,
            WIDTH as u16,
            HEIGHT as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("jpeg");
    let converted = to_i420(&RawFrame {
        format: PixelFormat::Mjpeg,
        width: WIDTH,
        height: HEIGHT,
        data: &jpeg,
    })
    .expect("mjpeg");
    assert_close(&converted, &frame, &pattern);
}

#[test]
fn odd_sizes_are_cropped_to_even() {
    let (width, height) = (101, 51);
    let rgba = vec![128; width * height * 4];
    let converted = to_i420(&RawFrame {
        format: PixelFormat::Rgba,
        width,
        height,
        data: &rgba,
    })
    .expect("rgba");
    assert_eq!((converted.width, converted.height), (100, 50));
    let i420 = vec![77; width * height * 2];
    let converted = to_i420(&RawFrame {
        format: PixelFormat::I420,
        width,
        height,
        data: &i420,
    })
    .expect("i420");
    assert_eq!(converted.mean_yuv(), (77.0, 77.0, 77.0));
}

#[test]
fn truncated_and_corrupt_captures_are_typed_errors() {
    let short = to_i420(&RawFrame {
        format: PixelFormat::Yuyv,
        width: WIDTH,
        height: HEIGHT,
        data: &[0; 100],
    });
    assert!(matches!(
        short,
        Err(ConvertError::ShortBuffer { actual: 100, .. })
    ));
    let tiny = to_i420(&RawFrame {
        format: PixelFormat::Rgb24,
        width: 1,
        height: 1,
        data: &[0; 3],
    });
    assert!(matches!(tiny, Err(ConvertError::TooSmall { .. })));
    let corrupt = to_i420(&RawFrame {
        format: PixelFormat::Mjpeg,
        width: WIDTH,
        height: HEIGHT,
        data: &[0xff, 0xd8, 0xff, 0x00, 0x13, 0x37],
    });
    assert!(matches!(corrupt, Err(ConvertError::Jpeg(_))), "{corrupt:?}");
}
