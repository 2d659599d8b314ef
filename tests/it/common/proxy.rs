//! A fault-injecting TCP proxy in front of a real server, for the fault
//! tests: the tool under test connects to the proxy, and the test switches
//! it at run time between passing traffic and a fault.
//!
//! Loopback only (it listens on 127.0.0.1 and refuses other targets). It
//! runs on its own thread and runtime, so sync and async tests can use it
//! alike, and dropping it closes every connection it holds. A proxy older
//! than [`MAX_LIFETIME`] shuts itself down, so a leaked one cannot hold a
//! connection forever.

use std::net::{SocketAddr, ToSocketAddrs};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long a proxy may live at most.
pub const MAX_LIFETIME: Duration = Duration::from_secs(300);

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Pass,
    /// Reset (RST) every connection, open or new.
    Reset,
    /// Keep the connections and accept new ones, but forward nothing until
    /// the mode changes (what was held is forwarded then).
    Stall,
    /// Forward each chunk after this delay.
    Slow(Duration),
    /// Accept connections and read what they send, but never answer nor
    /// reach the server: a peer that has gone silent.
    Blackhole,
    /// Stop listening (new connections are refused) and reset the open ones.
    Refuse,
}

#[derive(Clone, Copy, Debug)]
struct State {
    mode: Mode,
    /// Bumped by [`Proxy::reset_all`]: connections opened before die.
    epoch: u64,
    shutdown: bool,
}

/// A running proxy; dropped, it closes everything.
pub struct Proxy {
    addr: SocketAddr,
    state: watch::Sender<State>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy on an ephemeral loopback port in front of `target`, which
    /// must be on loopback too.
    pub fn start(target: SocketAddr) -> Proxy {
        assert!(target.ip().is_loopback(), "the fault proxy only fronts loopback servers, not {target}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds the proxy on loopback");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the proxy's address");
        let (state, receiver) = watch::channel(State { mode: Mode::Pass, epoch: 0, shutdown: false });
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("the proxy's runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("a tokio listener");
                let _ = tokio::time::timeout(MAX_LIFETIME, listen(listener, addr, target, receiver)).await;
            });
            // Dropping the runtime ends every connection task and closes its sockets.
        });
        Proxy { addr, state, thread: Some(thread) }
    }

    /// A proxy in front of the server of `url` (`scheme://[USER@]HOST:PORT/...`)
    /// and the same URL pointing at the proxy instead.
    pub fn in_front_of(url: &str) -> (Proxy, String) {
        let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let (user, host_port) = authority.rsplit_once('@').map_or(("", authority), |(user, host)| (user, host));
        let target = host_port.to_socket_addrs().expect("the server's address").find(|a| a.ip().is_loopback()).expect("a loopback server");
        let proxy = Proxy::start(target);
        let at = if user.is_empty() { String::new() } else { format!("{user}@") };
        let through = format!("{scheme}://{at}127.0.0.1:{}{path}", proxy.port());
        (proxy, through)
    }

    /// The port the proxy listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Switches the proxy to `mode`, for open and new connections.
    pub fn set(&self, mode: Mode) {
        self.state.send_modify(|state| state.mode = mode);
    }

    /// Resets the connections open now (a blip); the mode stays.
    pub fn reset_all(&self) {
        self.state.send_modify(|state| state.epoch += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.send_modify(|state| state.shutdown = true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until shutdown; in [`Mode::Refuse`] the port is
/// closed and opened again (same address) when the mode changes.
async fn listen(listener: TcpListener, addr: SocketAddr, target: SocketAddr, mut state: watch::Receiver<State>) {
    let mut listener = Some(listener);
    loop {
        let now = *state.borrow_and_update();
        if now.shutdown {
            return;
        }
        if now.mode == Mode::Refuse {
            listener = None;
        } else if let Some(open) = &listener {
            tokio::select! {
                accepted = open.accept() => {
                    if let Ok((client, _)) = accepted {
                        tokio::spawn(connection(client, target, state.clone()));
                    }
                    continue;
                }
                changed = state.changed() => if changed.is_err() { return },
            }
            continue;
        } else {
            listener = Some(TcpListener::bind(addr).await.expect("listens again on the proxy's port"));
            continue;
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}

/// Closes `stream` with a reset rather than a clean end.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

/// Whether a connection opened in `epoch` must die now.
fn doomed(state: &State, epoch: u64) -> bool {
    state.shutdown || state.epoch != epoch || matches!(state.mode, Mode::Reset | Mode::Refuse)
}

/// One client connection, for its whole life.
async fn connection(client: TcpStream, target: SocketAddr, mut state: watch::Receiver<State>) {
    let epoch = state.borrow().epoch;
    let upstream = loop {
        let now = *state.borrow_and_update();
        if doomed(&now, epoch) {
            return reset(&client);
        }
        match now.mode {
            Mode::Pass | Mode::Slow(_) => match TcpStream::connect(target).await {
                Ok(upstream) => break upstream,
                Err(_) => return reset(&client),
            },
            Mode::Blackhole => return swallow(client, epoch, state).await,
            _ => {
                if state.changed().await.is_err() {
                    return;
                }
            }
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    tokio::join!(pump(client_read, upstream_write, epoch, state.clone()), pump(upstream_read, client_write, epoch, state));
}

/// Reads what the client sends and throws it away, answering nothing,
/// until the connection must die.
async fn swallow(mut client: TcpStream, epoch: u64, mut state: watch::Receiver<State>) {
    let mut buf = vec![0; 64 * 1024];
    loop {
        tokio::select! {
            read = client.read(&mut buf) => if matches!(read, Ok(0) | Err(_)) { return },
            _ = state.wait_for(|now| doomed(now, epoch)) => return reset(&client),
        }
    }
}

/// Copies `from` to `to` chunk by chunk, obeying the mode before each
/// chunk is forwarded. When the connection must die, both sockets get
/// linger 0 so that dropping them resets.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, epoch: u64, mut state: watch::Receiver<State>) {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            _ = state.wait_for(|now| doomed(now, epoch)) => return kill(&from, &to),
        };
        let n = match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        let forward = loop {
            let now = *state.borrow_and_update();
            if doomed(&now, epoch) {
                return kill(&from, &to);
            }
            match now.mode {
                Mode::Pass => break true,
                Mode::Slow(delay) => {
                    tokio::time::sleep(delay).await;
                    break true;
                }
                Mode::Blackhole => break false,
                // Held, and forwarded when the mode changes.
                Mode::Stall | Mode::Reset | Mode::Refuse => {
                    if state.changed().await.is_err() {
                        return;
                    }
                }
            }
        };
        if forward && to.write_all(&buf[..n]).await.is_err() {
            return kill(&from, &to);
        }
    }
}

/// Gives both sockets of a pump linger 0, so that dropping them resets.
fn kill(from: &OwnedReadHalf, to: &OwnedWriteHalf) {
    reset(from.as_ref());
    reset(to.as_ref());
}
