//! VP8 through libvpx (Debian's libvpx 1.12), set up for real-time calls the way WebRTC
//! does it: one pass, no lag, CBR, error resilient, fast speed preset. Every LiveKit
//! client can decode VP8, so it is the default video codec.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_uint};
use std::mem::MaybeUninit;
use std::ptr;
use std::time::Duration;

use bytes::Bytes;
use vpx_sys::{
    VPX_DECODER_ABI_VERSION, VPX_DL_REALTIME, VPX_EFLAG_FORCE_KF, VPX_ENCODER_ABI_VERSION,
    VPX_FRAME_IS_KEY, vp8e_enc_control_id, vpx_codec_ctx_t, vpx_codec_cx_pkt_kind,
    vpx_codec_enc_cfg_t, vpx_codec_err_t, vpx_image_t, vpx_img_fmt, vpx_kf_mode, vpx_rc_mode,
};

use super::{
    CodecError, EncodedVideoFrame, VideoDecoder, VideoEncoder, VideoEncoderSettings,
    check_geometry, copy_planes,
};
use crate::video::I420Frame;

/// libvpx's speed preset: -6 trades a little quality for the CPU headroom WebRTC wants.
const CPU_USED: c_int = -6;
/// VP8's largest picture side (14-bit fields in the frame header).
const MAX_SIDE: usize = 16_383;
/// The encoder's timebase is milliseconds.
const TIMEBASE_HZ: u64 = 1_000;

/// The text libvpx keeps for the last error on `ctx`, plus the code's own name.
///
/// # Safety
/// `ctx` must point to an initialised codec context (or one whose init just failed).
unsafe fn vpx_error(
    ctx: *mut vpx_codec_ctx_t,
    operation: &'static str,
    err: vpx_codec_err_t,
) -> CodecError {
    let text = |p: *const c_char| {
        // SAFETY: libvpx returns null or a NUL-terminated static/context-owned string.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    };
    // SAFETY: err_to_string takes any code; error_detail reads the context the caller vouches for.
    let (name, detail) = unsafe {
        (
            text(vpx_sys::vpx_codec_err_to_string(err)),
            (!ctx.is_null())
                .then(|| text(vpx_sys::vpx_codec_error_detail(ctx)))
                .flatten(),
        )
    };
    CodecError::Vpx {
        operation,
        code: err as i32,
        detail: [name, detail]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": "),
    }
}

/// A libvpx context that is destroyed on drop. Boxed so its address never changes after
/// init (libvpx keeps pointers into it).
struct Context(Box<vpx_codec_ctx_t>);

impl Context {
    /// A zeroed context for `vpx_codec_*_init_ver` to fill in.
    fn zeroed() -> Self {
        // SAFETY: vpx_codec_ctx_t is plain C data (pointers, integers, an enum whose 0 is
        // VPX_CODEC_OK); all-zero is its "not initialised" state.
        Self(Box::new(unsafe { MaybeUninit::zeroed().assume_init() }))
    }

    fn as_ptr(&mut self) -> *mut vpx_codec_ctx_t {
        &mut *self.0
    }

    /// `Ok` for `VPX_CODEC_OK`, else the error with libvpx's detail text.
    fn check(&mut self, operation: &'static str, err: vpx_codec_err_t) -> Result<(), CodecError> {
        if err == vpx_codec_err_t::VPX_CODEC_OK {
            return Ok(());
        }
        // SAFETY: self.0 is a context we passed to libvpx (initialised or zeroed).
        Err(unsafe { vpx_error(self.as_ptr(), operation, err) })
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        if !self.0.priv_.is_null() {
            // SAFETY: priv_ is set only by a successful init; destroy frees what init made.
            unsafe { vpx_sys::vpx_codec_destroy(self.as_ptr()) };
        }
    }
}

// SAFETY: a libvpx context has no thread affinity; it is only used through `&mut self`,
// so moving it to another thread is fine (it is not Sync).
unsafe impl Send for Context {}

/// Encodes I420 frames to VP8 for a real-time call: one output frame per input frame,
/// keyframes only at the start, on request or after a size change.
pub struct Vp8Encoder {
    ctx: Context,
    cfg: Box<vpx_codec_enc_cfg_t>,
    fps: u32,
    keyframe_requested: bool,
}

impl Vp8Encoder {
    /// An encoder for frames of `settings.width` x `settings.height`.
    pub fn new(settings: VideoEncoderSettings) -> Result<Self, CodecError> {
        let mut cfg = MaybeUninit::<vpx_codec_enc_cfg_t>::uninit();
        // SAFETY: vpx_codec_vp8_cx returns a static interface; config_default fully
        // writes `cfg` when it returns OK, and we read it only then.
        let err = unsafe {
            vpx_sys::vpx_codec_enc_config_default(vpx_sys::vpx_codec_vp8_cx(), cfg.as_mut_ptr(), 0)
        };
        if err != vpx_codec_err_t::VPX_CODEC_OK {
            // SAFETY: a null context is allowed by vpx_error.
            return Err(unsafe { vpx_error(ptr::null_mut(), "enc_config_default", err) });
        }
        // SAFETY: initialised by the successful call above.
        let mut cfg = Box::new(unsafe { cfg.assume_init() });
        cfg.g_w = settings.width;
        cfg.g_h = settings.height;
        cfg.g_timebase.num = 1;
        cfg.g_timebase.den = TIMEBASE_HZ as c_int;
        cfg.g_threads = 1;
        cfg.g_lag_in_frames = 0;
        cfg.g_error_resilient = 1;
        cfg.rc_end_usage = vpx_rc_mode::VPX_CBR;
        cfg.rc_target_bitrate = (settings.bitrate_bps / 1_000).max(1);
        cfg.rc_min_quantizer = 2;
        cfg.rc_max_quantizer = 56;
        cfg.rc_undershoot_pct = 100;
        cfg.rc_overshoot_pct = 15;
        cfg.rc_buf_initial_sz = 500;
        cfg.rc_buf_optimal_sz = 600;
        cfg.rc_buf_sz = 1_000;
        cfg.rc_dropframe_thresh = 0;
        cfg.kf_mode = vpx_kf_mode::VPX_KF_AUTO;
        cfg.kf_min_dist = 0;
        cfg.kf_max_dist = 3_000;
        let mut encoder = Self {
            ctx: Context::zeroed(),
            cfg,
            fps: settings.fps.max(1),
            keyframe_requested: false,
        };
        encoder.init()?;
        Ok(encoder)
    }

    /// (Re)creates the libvpx encoder from `self.cfg`.
    fn init(&mut self) -> Result<(), CodecError> {
        let geometry = |reason| CodecError::FrameGeometry {
            width: self.cfg.g_w as usize,
            height: self.cfg.g_h as usize,
            reason,
        };
        let (w, h) = (self.cfg.g_w as usize, self.cfg.g_h as usize);
        if w == 0 || h == 0 || w % 2 != 0 || h % 2 != 0 || w > MAX_SIDE || h > MAX_SIDE {
            return Err(geometry("VP8 needs even sides between 2 and 16383"));
        }
        self.ctx = Context::zeroed();
        // SAFETY: ctx is zeroed and boxed, cfg is a complete config that outlives the call
        // (libvpx copies it), and the ABI version matches the bindings.
        let err = unsafe {
            vpx_sys::vpx_codec_enc_init_ver(
                self.ctx.as_ptr(),
                vpx_sys::vpx_codec_vp8_cx(),
                &*self.cfg,
                0,
                VPX_ENCODER_ABI_VERSION as c_int,
            )
        };
        self.ctx.check("enc_init", err)?;
        self.control(
            "control(CPUUSED)",
            vp8e_enc_control_id::VP8E_SET_CPUUSED,
            CPU_USED,
        )?;
        // Cap keyframes at 9x an average frame (WebRTC's rule for a 600 ms buffer at
        // 30 fps), so a keyframe does not flood the link in one burst.
        self.control(
            "control(MAX_INTRA_BITRATE_PCT)",
            vp8e_enc_control_id::VP8E_SET_MAX_INTRA_BITRATE_PCT,
            900,
        )
    }

    /// Sets one integer encoder control.
    fn control(
        &mut self,
        operation: &'static str,
        id: vp8e_enc_control_id,
        value: c_int,
    ) -> Result<(), CodecError> {
        // SAFETY: the context is initialised (init succeeded before any control call), and
        // the VP8 controls we use take exactly one int.
        let err = unsafe { vpx_sys::vpx_codec_control_(self.ctx.as_ptr(), id as c_int, value) };
        self.ctx.check(operation, err)
    }

    /// Makes the next encoded frame a keyframe (a receiver joined or lost the picture).
    pub fn request_keyframe(&mut self) {
        self.keyframe_requested = true;
    }

    /// Changes the target bitrate at once, without a keyframe (libvpx reconfigures live).
    pub fn set_bitrate(&mut self, bits_per_second: u32) -> Result<(), CodecError> {
        self.cfg.rc_target_bitrate = (bits_per_second / 1_000).max(1);
        // SAFETY: the context is initialised and cfg is a complete config.
        let err = unsafe { vpx_sys::vpx_codec_enc_config_set(self.ctx.as_ptr(), &*self.cfg) };
        self.ctx.check("enc_config_set", err)
    }

    /// Encodes one frame shown at `pts`. A frame of a new size recreates the encoder, so
    /// that frame is a keyframe at the new size. `Ok(None)` if libvpx produced nothing.
    pub fn encode(
        &mut self,
        frame: &I420Frame,
        pts: Duration,
    ) -> Result<Option<EncodedVideoFrame>, CodecError> {
        check_geometry(frame, MAX_SIDE)?;
        if (frame.width, frame.height) != (self.cfg.g_w as usize, self.cfg.g_h as usize) {
            self.cfg.g_w = frame.width as c_uint;
            self.cfg.g_h = frame.height as c_uint;
            self.init()?;
        }
        let mut image = MaybeUninit::<vpx_image_t>::zeroed();
        // SAFETY: vpx_img_wrap only fills in `image` (format, sizes, strides, plane
        // pointers into the Y buffer), it reads and writes no pixels. The size was checked
        // above, and the chroma planes and strides are pointed at our own planes next.
        let wrapped = unsafe {
            vpx_sys::vpx_img_wrap(
                image.as_mut_ptr(),
                vpx_img_fmt::VPX_IMG_FMT_I420,
                frame.width as c_uint,
                frame.height as c_uint,
                1,
                frame.y.as_ptr().cast_mut(),
            )
        };
        if wrapped.is_null() {
            return Err(CodecError::FrameGeometry {
                width: frame.width,
                height: frame.height,
                reason: "libvpx could not wrap the planes",
            });
        }
        // SAFETY: vpx_img_wrap succeeded, so `image` is initialised.
        let mut image = unsafe { image.assume_init() };
        image.planes[1] = frame.u.as_ptr().cast_mut();
        image.planes[2] = frame.v.as_ptr().cast_mut();
        image.stride = [
            frame.width as c_int,
            (frame.width / 2) as c_int,
            (frame.width / 2) as c_int,
            0,
        ];
        let flags = if self.keyframe_requested {
            VPX_EFLAG_FORCE_KF as _
        } else {
            0
        };
        let timestamp = i64::try_from(pts.as_millis()).unwrap_or(i64::MAX);
        let duration = (TIMEBASE_HZ / u64::from(self.fps)).max(1);
        // SAFETY: the context is initialised; `image` points at planes of the checked size
        // that stay borrowed for the call, and libvpx only reads them (it copies the input).
        let err = unsafe {
            vpx_sys::vpx_codec_encode(
                self.ctx.as_ptr(),
                &image,
                timestamp,
                duration as _,
                flags,
                VPX_DL_REALTIME as _,
            )
        };
        self.ctx.check("encode", err)?;
        self.keyframe_requested = false;
        let (mut data, mut keyframe) = (Vec::new(), false);
        let mut iter: vpx_sys::vpx_codec_iter_t = ptr::null();
        loop {
            // SAFETY: iterating the packets of the encode call above; each packet and its
            // buffer stay valid until the next encode call on this context.
            let packet = unsafe { vpx_sys::vpx_codec_get_cx_data(self.ctx.as_ptr(), &mut iter) };
            // SAFETY: non-null packets point at a valid vpx_codec_cx_pkt.
            let Some(packet) = (unsafe { packet.as_ref() }) else {
                break;
            };
            if packet.kind != vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                continue;
            }
            // SAFETY: for a frame packet the `frame` union member is the active one, and
            // `buf` holds `sz` bytes.
            let bytes = unsafe {
                let frame = packet.data.frame;
                keyframe |= frame.flags & VPX_FRAME_IS_KEY != 0;
                std::slice::from_raw_parts(frame.buf.cast::<u8>(), frame.sz as usize)
            };
            data.extend_from_slice(bytes);
        }
        Ok((!data.is_empty()).then(|| EncodedVideoFrame {
            data: Bytes::from(data),
            keyframe,
            pts,
        }))
    }
}

// SAFETY: besides the context (Send, above) the encoder owns its config, whose only
// pointers are the two-pass statistics buffers, which stay null in one-pass mode.
unsafe impl Send for Vp8Encoder {}

impl VideoEncoder for Vp8Encoder {
    fn encode(
        &mut self,
        frame: &I420Frame,
        pts: Duration,
    ) -> Result<Option<EncodedVideoFrame>, CodecError> {
        Vp8Encoder::encode(self, frame, pts)
    }

    fn request_keyframe(&mut self) {
        Vp8Encoder::request_keyframe(self);
    }

    fn set_bitrate(&mut self, bits_per_second: u32) -> Result<(), CodecError> {
        Vp8Encoder::set_bitrate(self, bits_per_second)
    }
}

/// Decodes VP8 frames (from any sender) into I420 pictures.
pub struct Vp8Decoder {
    ctx: Context,
}

impl Vp8Decoder {
    /// A decoder; it adapts to whatever size the stream has.
    pub fn new() -> Result<Self, CodecError> {
        let mut ctx = Context::zeroed();
        // SAFETY: ctx is zeroed and boxed; a null config means "defaults"; the ABI version
        // matches the bindings.
        let err = unsafe {
            vpx_sys::vpx_codec_dec_init_ver(
                ctx.as_ptr(),
                vpx_sys::vpx_codec_vp8_dx(),
                ptr::null(),
                0,
                VPX_DECODER_ABI_VERSION as c_int,
            )
        };
        ctx.check("dec_init", err)?;
        Ok(Self { ctx })
    }

    /// Decodes one whole VP8 frame. Corrupt or truncated input is an error; `Ok(None)`
    /// for empty input or a frame that shows nothing.
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        if data.is_empty() {
            return Ok(None);
        }
        let len = c_uint::try_from(data.len()).map_err(|_| CodecError::Vpx {
            operation: "decode",
            code: vpx_codec_err_t::VPX_CODEC_INVALID_PARAM as i32,
            detail: "frame larger than 4 GiB".into(),
        })?;
        // SAFETY: the context is initialised and `data` is valid for `len` bytes.
        let err = unsafe {
            vpx_sys::vpx_codec_decode(self.ctx.as_ptr(), data.as_ptr(), len, ptr::null_mut(), 0)
        };
        self.ctx.check("decode", err)?;
        let mut picture = None;
        let mut iter: vpx_sys::vpx_codec_iter_t = ptr::null();
        loop {
            // SAFETY: iterating the pictures of the decode call above; each stays valid
            // until the next decode call.
            let image = unsafe { vpx_sys::vpx_codec_get_frame(self.ctx.as_ptr(), &mut iter) };
            // SAFETY: non-null images point at a valid vpx_image_t.
            let Some(image) = (unsafe { image.as_ref() }) else {
                break;
            };
            picture = Some(copy_image(image)?);
        }
        Ok(picture)
    }
}

/// Copies a decoded libvpx picture into an [`I420Frame`].
fn copy_image(image: &vpx_image_t) -> Result<I420Frame, CodecError> {
    let (width, height) = (image.d_w as usize, image.d_h as usize);
    let unusable = |reason| CodecError::FrameGeometry {
        width,
        height,
        reason,
    };
    let (chroma_width, chroma_height) = (width.div_ceil(2), height.div_ceil(2));
    if image.fmt != vpx_img_fmt::VPX_IMG_FMT_I420 {
        return Err(unusable("decoder produced a picture that is not I420"));
    }
    if width == 0 || height == 0 || image.planes[..3].iter().any(|p| p.is_null()) {
        return Err(unusable("decoder produced an empty picture"));
    }
    let strides_fit = [width, chroma_width, chroma_width]
        .iter()
        .zip(image.stride)
        .all(|(&columns, stride)| usize::try_from(stride).is_ok_and(|s| s >= columns));
    if !strides_fit {
        return Err(unusable(
            "decoder produced strides narrower than the picture",
        ));
    }
    let plane = |index: usize, columns: usize, rows: usize| {
        let stride = image.stride[index] as usize;
        // SAFETY: libvpx's I420 picture has `rows` rows of `stride` bytes in each plane, of
        // which the first `columns` are the picture (the last row may end right there).
        let bytes = unsafe {
            std::slice::from_raw_parts(image.planes[index], (rows - 1) * stride + columns)
        };
        (bytes, stride)
    };
    copy_planes(
        width,
        height,
        [
            plane(0, width, height),
            plane(1, chroma_width, chroma_height),
            plane(2, chroma_width, chroma_height),
        ],
    )
    .ok_or_else(|| unusable("decoded picture under 2x2, or planes shorter than their strides"))
}

impl VideoDecoder for Vp8Decoder {
    fn decode(&mut self, data: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        Vp8Decoder::decode(self, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::test_support;

    fn encoder(bitrate_bps: u32) -> Vp8Encoder {
        Vp8Encoder::new(VideoEncoderSettings {
            bitrate_bps,
            ..VideoEncoderSettings::for_size(640, 360)
        })
        .expect("encoder")
    }

    #[test]
    fn frames_keep_their_stamp_and_colour_through_vp8() {
        let mut decoder = Vp8Decoder::new().expect("decoder");
        test_support::round_trip(&mut encoder(1_000_000), &mut decoder);
    }

    #[test]
    fn vp8_sends_a_keyframe_first_and_on_request_only() {
        test_support::keyframe_on_request(&mut encoder(1_000_000));
    }

    #[test]
    fn vp8_bitrate_drops_when_lowered_live() {
        let (before, after) = test_support::bitrate_follows_set_bitrate(&mut encoder(1_500_000));
        eprintln!("vp8: 30 frames at 1.5 Mbit/s {before} B, at 150 kbit/s {after} B");
    }

    #[test]
    fn vp8_follows_a_size_change() {
        let mut decoder = Vp8Decoder::new().expect("decoder");
        test_support::size_change(&mut encoder(1_000_000), &mut decoder);
    }

    #[test]
    fn vp8_bad_input_is_an_error_not_a_crash() {
        let mut decoder = Vp8Decoder::new().expect("decoder");
        test_support::bad_input(&mut encoder(1_000_000), &mut decoder);
        assert!(matches!(
            decoder.decode(&[0x55; 64]),
            Err(CodecError::Vpx {
                operation: "decode",
                ..
            })
        ));
    }
}
