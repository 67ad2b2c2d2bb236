//! `zmq_msg_t` and the `zmq_msg_*` family.
//!
//! `zmq_msg_t` is libzmq's 64-byte opaque struct; ours holds a [`MsgInner`] in place. A
//! message made with `zmq_msg_init_size` owns a `Vec` the caller writes into; a message
//! received, copied or made with `zmq_msg_init_data` holds a [`Frame`]: a short one in
//! place (as libzmq's very small messages), a longer one as `Bytes`, shared without copies
//! (the caller's free function runs when the last share is dropped).

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::Arc;

use bytes::Bytes;
use oxmq_core::codec::Metadata;
use oxmq_core::Frame;

use crate::error::guard;

/// libzmq's `sizeof (zmq_msg_t)`.
pub const MSG_T_SIZE: usize = 64;

/// The longest message libzmq holds inside its `zmq_msg_t` (its "very small messages",
/// `max_vsm_size` on 64-bit targets): `zmq_msg_copy` copies such a message's bytes instead of
/// sharing them, so neither side reports ZMQ_SHARED.
pub const MAX_VSM_SIZE: usize = 33;

/// `ZMQ_MORE`.
pub const ZMQ_MORE: c_int = 1;
/// `ZMQ_SRCFD` (deprecated).
pub const ZMQ_SRCFD: c_int = 2;
/// `ZMQ_SHARED`.
pub const ZMQ_SHARED: c_int = 3;

/// libzmq's `zmq_msg_t`: 64 opaque bytes, pointer-aligned.
#[repr(C, align(8))]
#[allow(non_camel_case_types)]
pub struct zmq_msg_t {
    _opaque: [u8; MSG_T_SIZE],
}

impl zmq_msg_t {
    /// Bytes that `zmq_msg_init` is yet to fill (for callers on the Rust side).
    pub const fn uninit() -> Self {
        zmq_msg_t {
            _opaque: [0; MSG_T_SIZE],
        }
    }
}

const _: () = assert!(std::mem::size_of::<zmq_msg_t>() == MSG_T_SIZE);
const _: () = assert!(std::mem::size_of::<MsgInner>() <= MSG_T_SIZE);
const _: () = assert!(std::mem::align_of::<MsgInner>() <= std::mem::align_of::<zmq_msg_t>());

/// The C caller's free function for `zmq_msg_init_data`.
pub type FreeFn = unsafe extern "C" fn(data: *mut c_void, hint: *mut c_void);

const MSG_TAG: u32 = 0x6d73_6721;

/// What lives inside a `zmq_msg_t`.
#[repr(C)]
pub(crate) struct MsgInner {
    tag: u32,
    pub(crate) more: bool,
    shared: bool,
    /// The content is the caller's buffer (`zmq_msg_init_data`), which libzmq never holds
    /// in place, however short: a copy shares it.
    foreign: bool,
    content: Content,
    pub(crate) properties: Option<Arc<Metadata>>,
    /// The C strings `zmq_msg_gets` handed out, alive until the message is closed.
    /// Boxed: one pointer keeps the struct within libzmq's 64 bytes.
    #[allow(clippy::box_collection)]
    gets: Option<Box<Vec<CString>>>,
}

enum Content {
    Owned(Vec<u8>),
    Shared(Frame),
}

impl MsgInner {
    fn new(content: Content) -> Self {
        MsgInner {
            tag: MSG_TAG,
            more: false,
            shared: false,
            foreign: false,
            content,
            properties: None,
            gets: None,
        }
    }

    /// The content as a frame, without a copy. A message the caller filled
    /// (`zmq_msg_init_size`) keeps its buffer, however short, so the pointer
    /// `zmq_msg_data` gave stays good.
    pub(crate) fn frame(&mut self) -> Frame {
        if let Content::Owned(v) = &mut self.content {
            self.content = Content::Shared(Frame::shared(Bytes::from(std::mem::take(v))));
        }
        match &self.content {
            Content::Shared(b) => b.clone(),
            Content::Owned(_) => unreachable!("made shared just above"),
        }
    }

    /// Takes the content out as a frame, leaving the message empty (no reference count
    /// touched); [`MsgInner::put_back`] undoes it.
    pub(crate) fn take_frame(&mut self) -> Frame {
        // An empty `Vec`, not `Bytes::new()`: dropping it later (zmq_msg_close) is one test,
        // where `Bytes` makes an indirect call.
        match std::mem::replace(&mut self.content, Content::Owned(Vec::new())) {
            Content::Owned(v) => Frame::from(v),
            Content::Shared(b) => b,
        }
    }

    /// Makes an emptied message (see [`MsgInner::take_frame`]) a plain empty one, as
    /// `zmq_msg_init` leaves it, without writing the whole message again.
    pub(crate) fn clear(&mut self) {
        self.more = false;
        self.shared = false;
        self.foreign = false;
        self.properties = None;
        self.gets = None;
    }

    /// Makes this message a received frame in place, as `zmq_msg_recv` leaves it; what it
    /// held before is dropped.
    pub(crate) fn set_received(
        &mut self,
        frame: Frame,
        more: bool,
        properties: Option<Arc<Metadata>>,
    ) {
        self.content = Content::Shared(frame);
        self.more = more;
        self.shared = false;
        self.foreign = false;
        self.properties = properties;
        self.gets = None;
    }

    /// Puts back what [`MsgInner::take_frame`] took.
    pub(crate) fn put_back(&mut self, b: Frame) {
        self.content = Content::Shared(b);
    }

    fn len(&self) -> usize {
        self.bytes().len()
    }

    fn bytes(&self) -> &[u8] {
        match &self.content {
            Content::Owned(v) => v,
            Content::Shared(b) => b,
        }
    }
}

/// The message behind `msg`, or `EFAULT`.
pub(crate) fn inner<'a>(msg: *mut zmq_msg_t) -> Result<&'a mut MsgInner, c_int> {
    if msg.is_null() {
        return Err(libc::EFAULT);
    }
    let p = msg.cast::<MsgInner>();
    // SAFETY: `msg` points at 64 writable bytes (the caller's zmq_msg_t); the tag, read as
    // plain bytes, tells whether `zmq_msg_init*` put a `MsgInner` there.
    unsafe {
        if std::ptr::addr_of!((*p).tag).read() != MSG_TAG {
            return Err(libc::EFAULT);
        }
        Ok(&mut *p)
    }
}

/// Puts `m` into the caller's `zmq_msg_t`, whatever was there (uninitialised bytes).
pub(crate) fn write(msg: *mut zmq_msg_t, m: MsgInner) -> Result<(), c_int> {
    if msg.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: the caller's zmq_msg_t is 64 writable, 8-aligned bytes; the asserts above say
    // a MsgInner fits.
    unsafe { msg.cast::<MsgInner>().write(m) };
    Ok(())
}

/// Drops the message in `msg` and marks the bytes as no message.
pub(crate) fn close(msg: *mut zmq_msg_t) -> Result<(), c_int> {
    inner(msg)?;
    // SAFETY: `inner` checked that a live MsgInner is there; after dropping it the tag is
    // cleared so that it is not dropped twice.
    unsafe {
        std::ptr::drop_in_place(msg.cast::<MsgInner>());
        msg.cast::<u32>().write(0);
    }
    Ok(())
}

/// Replaces the message in `msg` (which must hold one) with `m`.
pub(crate) fn replace(msg: *mut zmq_msg_t, m: MsgInner) -> Result<(), c_int> {
    close(msg)?;
    write(msg, m)
}

/// `zmq_msg_init`: an empty message.
#[no_mangle]
pub extern "C" fn zmq_msg_init(msg_: *mut zmq_msg_t) -> c_int {
    guard(-1, || {
        write(msg_, MsgInner::new(Content::Owned(Vec::new())))?;
        Ok(0)
    })
}

/// `zmq_msg_init_size`: a message of `size` bytes for the caller to fill.
#[no_mangle]
pub extern "C" fn zmq_msg_init_size(msg_: *mut zmq_msg_t, size_: usize) -> c_int {
    guard(-1, || {
        write(msg_, MsgInner::new(Content::Owned(zeroed(size_)?)))?;
        Ok(0)
    })
}

/// `size` zeroed bytes in one allocation (no growth path), or `ENOMEM`.
fn zeroed(size: usize) -> Result<Vec<u8>, c_int> {
    if size == 0 {
        return Ok(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(size).map_err(|_| libc::ENOMEM)?;
    // SAFETY: `layout` has a non-zero size.
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    if p.is_null() {
        return Err(libc::ENOMEM);
    }
    // SAFETY: `p` was allocated by the global allocator with the layout of `size` bytes
    // (align 1), all of them initialised to zero.
    Ok(unsafe { Vec::from_raw_parts(p, size, size) })
}

/// The caller's buffer, freed by its own function when the last share of it is dropped.
struct ForeignBuffer {
    data: *mut c_void,
    len: usize,
    ffn: Option<FreeFn>,
    hint: *mut c_void,
}

// SAFETY: libzmq's contract for `zmq_msg_init_data`: the buffer is the message's until the
// free function is called, which may happen on any thread.
unsafe impl Send for ForeignBuffer {}

impl AsRef<[u8]> for ForeignBuffer {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the caller gave `len` readable bytes at `data`, kept until the free call.
        unsafe { std::slice::from_raw_parts(self.data.cast(), self.len) }
    }
}

impl Drop for ForeignBuffer {
    fn drop(&mut self) {
        if let Some(ffn) = self.ffn {
            // SAFETY: the caller's free function, called once with its own data and hint.
            unsafe { ffn(self.data, self.hint) }
        }
    }
}

/// `zmq_msg_init_data`: a message over the caller's buffer, without a copy; `ffn` (if not
/// null) is called with `data` and `hint` once no message refers to it any more.
#[no_mangle]
pub extern "C" fn zmq_msg_init_data(
    msg_: *mut zmq_msg_t,
    data_: *mut c_void,
    size_: usize,
    ffn_: Option<FreeFn>,
    hint_: *mut c_void,
) -> c_int {
    guard(-1, || {
        if msg_.is_null() || (data_.is_null() && size_ != 0) {
            return Err(libc::EFAULT);
        }
        let buf = ForeignBuffer {
            data: data_,
            len: size_,
            ffn: ffn_,
            hint: hint_,
        };
        let mut m = MsgInner::new(Content::Shared(Frame::shared(Bytes::from_owner(buf))));
        // Without a free function the data is constant, which libzmq reports as shared.
        m.shared = ffn_.is_none();
        m.foreign = true;
        write(msg_, m)?;
        Ok(0)
    })
}

/// `zmq_msg_close`.
#[no_mangle]
pub extern "C" fn zmq_msg_close(msg_: *mut zmq_msg_t) -> c_int {
    guard(-1, || close(msg_).map(|()| 0))
}

/// `zmq_msg_move`: `dest` takes `src`'s content; `src` becomes empty.
#[no_mangle]
pub extern "C" fn zmq_msg_move(dest_: *mut zmq_msg_t, src_: *mut zmq_msg_t) -> c_int {
    guard(-1, || {
        inner(src_)?;
        inner(dest_)?;
        if dest_ == src_ {
            return Ok(0);
        }
        close(dest_)?;
        // SAFETY: `src` holds a live MsgInner (checked); it is read out once and replaced
        // by an empty message at once, so it is never dropped twice.
        let m = unsafe { src_.cast::<MsgInner>().read() };
        write(dest_, m)?;
        write(src_, MsgInner::new(Content::Owned(Vec::new())))?;
        Ok(0)
    })
}

/// `zmq_msg_copy`: `dest` shares `src`'s content (no bytes are copied), and both then
/// report ZMQ_SHARED. A message of at most [`MAX_VSM_SIZE`] bytes, which libzmq holds in
/// place, is copied instead and neither becomes shared: writing into one does not change
/// the other, and `src`'s data pointer stays where it was. The caller's own buffer
/// (`zmq_msg_init_data`) is shared whatever its size, as libzmq does.
#[no_mangle]
pub extern "C" fn zmq_msg_copy(dest_: *mut zmq_msg_t, src_: *mut zmq_msg_t) -> c_int {
    guard(-1, || {
        let src = inner(src_)?;
        inner(dest_)?;
        if dest_ == src_ {
            return Ok(0);
        }
        let mut m = if !src.foreign && src.len() <= MAX_VSM_SIZE {
            MsgInner::new(Content::Shared(Frame::copy_from_slice(src.bytes())))
        } else {
            let frame = src.frame();
            src.shared = true;
            let mut m = MsgInner::new(Content::Shared(frame));
            m.foreign = src.foreign;
            m
        };
        m.more = src.more;
        m.shared = src.shared;
        m.properties = src.properties.clone();
        replace(dest_, m)?;
        Ok(0)
    })
}

/// `zmq_msg_data`: the content's first byte.
#[no_mangle]
pub extern "C" fn zmq_msg_data(msg_: *mut zmq_msg_t) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        Ok(match &mut inner(msg_)?.content {
            Content::Owned(v) => v.as_mut_ptr().cast(),
            // libzmq lets its caller write into a received message too.
            Content::Shared(b) => b.as_ptr().cast_mut().cast(),
        })
    })
}

/// `zmq_msg_size`.
#[no_mangle]
pub extern "C" fn zmq_msg_size(msg_: *const zmq_msg_t) -> usize {
    guard(0, || Ok(inner(msg_.cast_mut())?.len()))
}

/// `zmq_msg_more`: whether more frames of the same message follow this received one.
#[no_mangle]
pub extern "C" fn zmq_msg_more(msg_: *const zmq_msg_t) -> c_int {
    guard(0, || Ok(c_int::from(inner(msg_.cast_mut())?.more)))
}

/// `zmq_msg_get`: ZMQ_MORE, ZMQ_SRCFD (always −1 here: connections have no fd to share) or
/// ZMQ_SHARED.
#[no_mangle]
pub extern "C" fn zmq_msg_get(msg_: *const zmq_msg_t, property_: c_int) -> c_int {
    guard(-1, || {
        let m = inner(msg_.cast_mut())?;
        match property_ {
            ZMQ_MORE => Ok(c_int::from(m.more)),
            ZMQ_SRCFD => Ok(-1),
            ZMQ_SHARED => Ok(c_int::from(m.shared)),
            _ => Err(libc::EINVAL),
        }
    })
}

/// `zmq_msg_set`: libzmq 4.3 has no settable property (`EINVAL`).
#[no_mangle]
pub extern "C" fn zmq_msg_set(msg_: *mut zmq_msg_t, _property: c_int, _optval: c_int) -> c_int {
    guard(-1, || {
        inner(msg_)?;
        Err(libc::EINVAL)
    })
}

/// `zmq_msg_gets`: a metadata property of the connection the message came from
/// (`Socket-Type`, `User-Id`, `Identity`, what ZAP added …); NULL with `EINVAL` if absent.
/// The string lives as long as the message.
#[no_mangle]
pub extern "C" fn zmq_msg_gets(msg_: *const zmq_msg_t, property_: *const c_char) -> *const c_char {
    guard(std::ptr::null(), || {
        let m = inner(msg_.cast_mut())?;
        if property_.is_null() {
            return Err(libc::EINVAL);
        }
        // SAFETY: the caller passes a NUL-terminated property name.
        let name = unsafe { CStr::from_ptr(property_) }
            .to_str()
            .map_err(|_| libc::EINVAL)?;
        let value = m
            .properties
            .as_ref()
            .and_then(|p| p.get(name))
            .ok_or(libc::EINVAL)?;
        let mut text: Vec<u8> = value.to_vec();
        text.retain(|&b| b != 0);
        let c = CString::new(text).map_err(|_| libc::EINVAL)?;
        let gets = m.gets.get_or_insert_with(Default::default);
        gets.push(c);
        Ok(gets.last().map_or(std::ptr::null(), |c| c.as_ptr()))
    })
}
