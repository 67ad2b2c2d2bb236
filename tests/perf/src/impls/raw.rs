//! The ceiling: the bytes a ZMTP peer would put on the wire for the same messages (frame
//! headers included), written in 256 KiB batches on a plain socket and read in 256 KiB
//! reads, with no parsing; and a plain ping-pong of one frame's bytes for latency.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::thread;
use std::time::Instant;

use crate::child;
use crate::spec::{Metric, Transport, Workload};

pub struct Raw;

const BATCH: usize = 256 * 1024;

impl crate::impls::Entry for Raw {
    fn id(&self) -> &'static str {
        "raw"
    }

    fn name(&self) -> &'static str {
        "raw socket (ceiling)"
    }

    fn supports(&self, w: Workload) -> bool {
        match w {
            Workload::PushPull { transport, .. } | Workload::DealerRouter { transport, .. } => {
                transport != Transport::Inproc
            }
            Workload::ReqRep { transport, .. } => transport == Transport::Tcp,
            Workload::PubSub { .. } | Workload::Accept | Workload::CurvePushPull { .. } => false,
        }
    }

    fn run(&self, w: Workload, count: usize, tag: &str) -> Vec<(Metric, f64)> {
        match w {
            Workload::PushPull { transport, size } | Workload::DealerRouter { transport, size } => {
                vec![(Metric::Rate, stream(transport, size, count, tag))]
            }
            Workload::ReqRep { size, .. } => {
                let (p50, p99) = ping_pong(size, count);
                vec![(Metric::P50, p50), (Metric::P99, p99)]
            }
            Workload::PubSub { .. } | Workload::Accept | Workload::CurvePushPull { .. } => {
                unreachable!("not supported")
            }
        }
    }
}

/// One data frame's bytes on the wire: the short or long frame header, then the body.
fn frame(size: usize) -> Vec<u8> {
    let mut f = if size <= 255 {
        vec![0x00, size as u8]
    } else {
        let mut h = vec![0x02];
        h.extend_from_slice(&(size as u64).to_be_bytes());
        h
    };
    f.extend(std::iter::repeat_n(0xA5, size));
    f
}

fn pair(transport: Transport, tag: &str) -> (Box<dyn Write + Send>, Box<dyn Read + Send>) {
    match transport {
        Transport::Tcp => {
            let l = TcpListener::bind("127.0.0.1:0").expect("listen");
            let w = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
            let (r, _) = l.accept().expect("accept");
            (Box::new(w), Box::new(r))
        }
        Transport::Ipc => {
            let path = std::env::temp_dir()
                .join(format!("oxmq-perf-raw-{}-{tag}.sock", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let l = UnixListener::bind(&path).expect("listen");
            let w = UnixStream::connect(&path).expect("connect");
            let (r, _) = l.accept().expect("accept");
            let _ = std::fs::remove_file(&path);
            (Box::new(w), Box::new(r))
        }
        Transport::Inproc => unreachable!("no raw inproc"),
    }
}

fn stream(transport: Transport, size: usize, count: usize, tag: &str) -> f64 {
    let one = frame(size);
    let per_batch = (BATCH / one.len()).clamp(1, count);
    let batch: Vec<u8> = one.repeat(per_batch);
    let total = one.len() * count;
    let (mut w, mut r) = pair(transport, tag);
    let reader = thread::spawn(move || {
        let mut buf = vec![0u8; BATCH];
        let mut got = 0;
        while got < total {
            let n = r.read(&mut buf).expect("read");
            assert!(n > 0, "writer closed early");
            got += n;
        }
        Instant::now()
    });
    let t0 = Instant::now();
    let mut left = total;
    while left > 0 {
        let n = left.min(batch.len());
        w.write_all(&batch[..n]).expect("write");
        left -= n;
    }
    let t1 = reader.join().expect("reader");
    count as f64 / (t1 - t0).as_secs_f64()
}

fn ping_pong(size: usize, count: usize) -> (f64, f64) {
    let one = frame(size);
    let len = one.len();
    let l = TcpListener::bind("127.0.0.1:0").expect("listen");
    let mut c = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let (mut s, _) = l.accept().expect("accept");
    c.set_nodelay(true).expect("nodelay");
    s.set_nodelay(true).expect("nodelay");
    let warm = crate::blocking::warmup_count(count);
    let server = thread::spawn(move || {
        let mut buf = vec![0u8; len];
        for _ in 0..warm + count {
            s.read_exact(&mut buf).expect("read");
            s.write_all(&buf).expect("write");
        }
    });
    let mut buf = vec![0u8; len];
    for _ in 0..warm {
        c.write_all(&one).expect("write");
        c.read_exact(&mut buf).expect("read");
    }
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let t0 = Instant::now();
        c.write_all(&one).expect("write");
        c.read_exact(&mut buf).expect("read");
        times.push(t0.elapsed());
    }
    server.join().expect("server");
    child::percentiles(times)
}
