//! The helpers of zmq.h: version, capabilities, Z85, CURVE keys, atomic counters, the
//! stopwatch, sleep and threads.

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use oxmq_core::mechanism::{curve, z85, CurveSecretKey};

use crate::error::guard;

/// The libzmq version this ABI follows.
pub const VERSION: (c_int, c_int, c_int) = (4, 3, 4);

/// `zmq_version`.
#[no_mangle]
pub extern "C" fn zmq_version(major_: *mut c_int, minor_: *mut c_int, patch_: *mut c_int) {
    for (p, v) in [
        (major_, VERSION.0),
        (minor_, VERSION.1),
        (patch_, VERSION.2),
    ] {
        if !p.is_null() {
            // SAFETY: a non-null out-parameter from the caller.
            unsafe { *p = v };
        }
    }
}

/// `zmq_has`: 1 for "ipc" and "curve", 0 for what oxmq lacks (pgm, tipc, norm, gssapi, ws,
/// wss, vmci, draft).
#[no_mangle]
pub extern "C" fn zmq_has(capability_: *const c_char) -> c_int {
    guard(0, || {
        if capability_.is_null() {
            return Ok(0);
        }
        // SAFETY: the caller passes a NUL-terminated string.
        let cap = unsafe { CStr::from_ptr(capability_) }.to_bytes();
        Ok(c_int::from(matches!(cap, b"ipc" | b"curve")))
    })
}

/// `zmq_z85_encode`: writes `size_ * 5 / 4` characters and a NUL to `dest_`; `size_` must
/// be a multiple of 4 (else NULL and `EINVAL`).
#[no_mangle]
pub extern "C" fn zmq_z85_encode(
    dest_: *mut c_char,
    data_: *const u8,
    size_: usize,
) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        if !size_.is_multiple_of(4) || dest_.is_null() || (data_.is_null() && size_ != 0) {
            return Err(libc::EINVAL);
        }
        let data = if size_ == 0 {
            &[][..]
        } else {
            // SAFETY: the caller gives `size_` readable bytes at `data_`.
            unsafe { std::slice::from_raw_parts(data_, size_) }
        };
        let text = z85::encode(data).map_err(|_| libc::EINVAL)?;
        // SAFETY: the caller gives room for `size_ * 5 / 4 + 1` bytes at `dest_`.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), dest_.cast::<u8>(), text.len());
            *dest_.add(text.len()) = 0;
        }
        Ok(dest_)
    })
}

/// `zmq_z85_decode`: writes `strlen (string_) * 4 / 5` bytes to `dest_`; NULL with `EINVAL`
/// for a length not a multiple of 5 or a character outside Z85.
#[no_mangle]
pub extern "C" fn zmq_z85_decode(dest_: *mut u8, string_: *const c_char) -> *mut u8 {
    guard(std::ptr::null_mut(), || {
        if dest_.is_null() || string_.is_null() {
            return Err(libc::EINVAL);
        }
        // SAFETY: the caller passes a NUL-terminated string.
        let text = unsafe { CStr::from_ptr(string_) }
            .to_str()
            .map_err(|_| libc::EINVAL)?;
        if !text.len().is_multiple_of(5) {
            return Err(libc::EINVAL);
        }
        let bytes = z85::decode(text).map_err(|_| libc::EINVAL)?;
        // SAFETY: the caller gives room for `strlen * 4 / 5` bytes at `dest_`.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dest_, bytes.len()) };
        Ok(dest_)
    })
}

/// Writes a 40-character Z85 key and its NUL to `dest`.
fn put_z85(dest: *mut c_char, key: &[u8; 32]) -> Result<(), c_int> {
    let text = z85::encode(key).map_err(|_| libc::EINVAL)?;
    // SAFETY: the caller gives 41 bytes at `dest`.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), dest.cast::<u8>(), 40);
        *dest.add(40) = 0;
    }
    Ok(())
}

/// `zmq_curve_keypair`: a new CURVE key pair, each as 40 Z85 characters and a NUL.
#[no_mangle]
pub extern "C" fn zmq_curve_keypair(
    z85_public_key_: *mut c_char,
    z85_secret_key_: *mut c_char,
) -> c_int {
    guard(-1, || {
        if z85_public_key_.is_null() || z85_secret_key_.is_null() {
            return Err(libc::EINVAL);
        }
        let mut random = oxmq_core::rng::os_random().stream();
        let (public, secret) = curve::generate_keypair(&mut *random);
        put_z85(z85_public_key_, &public.0)?;
        put_z85(z85_secret_key_, secret.expose())?;
        Ok(0)
    })
}

/// `zmq_curve_public`: the public key of a Z85 secret key.
#[no_mangle]
pub extern "C" fn zmq_curve_public(
    z85_public_key_: *mut c_char,
    z85_secret_key_: *const c_char,
) -> c_int {
    guard(-1, || {
        if z85_public_key_.is_null() || z85_secret_key_.is_null() {
            return Err(libc::EINVAL);
        }
        // SAFETY: the caller passes a NUL-terminated 40-character key.
        let text = unsafe { CStr::from_ptr(z85_secret_key_) }
            .to_str()
            .map_err(|_| libc::EINVAL)?;
        let secret = CurveSecretKey::from_z85(text).map_err(|_| libc::EINVAL)?;
        put_z85(z85_public_key_, &curve::public_key(&secret).0)?;
        Ok(0)
    })
}

/// `zmq_atomic_counter_new`: a counter at 0.
#[no_mangle]
pub extern "C" fn zmq_atomic_counter_new() -> *mut c_void {
    Box::into_raw(Box::new(AtomicI32::new(0))).cast()
}

fn counter<'a>(p: *mut c_void) -> Option<&'a AtomicI32> {
    // SAFETY: a non-null counter came from `zmq_atomic_counter_new`.
    unsafe { p.cast::<AtomicI32>().as_ref() }
}

/// `zmq_atomic_counter_set`.
#[no_mangle]
pub extern "C" fn zmq_atomic_counter_set(counter_: *mut c_void, value_: c_int) {
    if let Some(c) = counter(counter_) {
        c.store(value_, Ordering::SeqCst);
    }
}

/// `zmq_atomic_counter_inc`: adds one; returns the value before.
#[no_mangle]
pub extern "C" fn zmq_atomic_counter_inc(counter_: *mut c_void) -> c_int {
    counter(counter_).map_or(0, |c| c.fetch_add(1, Ordering::SeqCst))
}

/// `zmq_atomic_counter_dec`: takes one away; returns 1 if the counter is still above zero,
/// else 0.
#[no_mangle]
pub extern "C" fn zmq_atomic_counter_dec(counter_: *mut c_void) -> c_int {
    counter(counter_).map_or(0, |c| c_int::from(c.fetch_sub(1, Ordering::SeqCst) - 1 > 0))
}

/// `zmq_atomic_counter_value`.
#[no_mangle]
pub extern "C" fn zmq_atomic_counter_value(counter_: *mut c_void) -> c_int {
    counter(counter_).map_or(0, |c| c.load(Ordering::SeqCst))
}

/// `zmq_atomic_counter_destroy`: frees the counter and nulls the caller's pointer.
#[no_mangle]
pub extern "C" fn zmq_atomic_counter_destroy(counter_p_: *mut *mut c_void) {
    if counter_p_.is_null() {
        return;
    }
    // SAFETY: the caller passes the address of a pointer from `zmq_atomic_counter_new`.
    unsafe {
        let p = *counter_p_;
        if !p.is_null() {
            drop(Box::from_raw(p.cast::<AtomicI32>()));
        }
        *counter_p_ = std::ptr::null_mut();
    }
}

/// `zmq_stopwatch_start`.
#[no_mangle]
pub extern "C" fn zmq_stopwatch_start() -> *mut c_void {
    Box::into_raw(Box::new(Instant::now())).cast()
}

/// `zmq_stopwatch_intermediate`: microseconds since the start.
#[no_mangle]
pub extern "C" fn zmq_stopwatch_intermediate(watch_: *mut c_void) -> c_ulong {
    // SAFETY: a stopwatch from `zmq_stopwatch_start`.
    match unsafe { watch_.cast::<Instant>().as_ref() } {
        Some(t) => t.elapsed().as_micros() as c_ulong,
        None => 0,
    }
}

/// `zmq_stopwatch_stop`: microseconds since the start; frees the stopwatch.
#[no_mangle]
pub extern "C" fn zmq_stopwatch_stop(watch_: *mut c_void) -> c_ulong {
    let us = zmq_stopwatch_intermediate(watch_);
    if !watch_.is_null() {
        // SAFETY: a stopwatch from `zmq_stopwatch_start`, freed once.
        drop(unsafe { Box::from_raw(watch_.cast::<Instant>()) });
    }
    us
}

/// `zmq_sleep`.
#[no_mangle]
pub extern "C" fn zmq_sleep(seconds_: c_int) {
    std::thread::sleep(Duration::from_secs(seconds_.max(0) as u64));
}

/// The thread function of `zmq_threadstart`.
pub type ThreadFn = unsafe extern "C" fn(arg: *mut c_void);

struct ThreadArg(ThreadFn, *mut c_void);

// SAFETY: handing `arg` to the new thread is what the caller asks for.
unsafe impl Send for ThreadArg {}

/// `zmq_threadstart`: runs `func_(arg_)` on a new thread.
#[no_mangle]
pub extern "C" fn zmq_threadstart(func_: Option<ThreadFn>, arg_: *mut c_void) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        let func = func_.ok_or(libc::EINVAL)?;
        let arg = ThreadArg(func, arg_);
        let handle = std::thread::Builder::new()
            .spawn(move || {
                let arg = arg;
                // SAFETY: the caller's function with the caller's argument.
                unsafe { (arg.0)(arg.1) }
            })
            .map_err(|_| crate::error::EMTHREAD)?;
        Ok(Box::into_raw(Box::new(handle)).cast())
    })
}

/// `zmq_threadclose`: waits for the thread and frees its handle.
#[no_mangle]
pub extern "C" fn zmq_threadclose(thread_: *mut c_void) {
    if thread_.is_null() {
        return;
    }
    // SAFETY: a handle from `zmq_threadstart`, freed once.
    let handle = unsafe { Box::from_raw(thread_.cast::<std::thread::JoinHandle<()>>()) };
    let _ = handle.join();
}
