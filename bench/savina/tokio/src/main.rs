//! bench/savina/tokio - the Savina workloads of savina-troupe on Tokio 1.24, written the
//! way Tokio's actor pattern goes: a task per actor owning its state and reading an
//! unbounded mpsc channel; request-reply sends a oneshot sender along. Same protocols and
//! sizes as troupe.cpp.
//!
//! usage: savina-tokio <workload> <scale> <workers>   (the multi-thread runtime's workers)
//! Prints "<workload> <ms>"; a wrong result exits 1.
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

type Tx<T> = mpsc::UnboundedSender<T>;

fn wrong(what: String) -> ! {
    eprintln!("savina-tokio: wrong result: {}", what);
    std::process::exit(1);
}

fn scaled(base: f64, scale: f64) -> u64 {
    ((base * scale).round() as u64).max(1)
}

/// The xorshift every implementation uses.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Savina's stand-in for real work: n rounds of an LCG.
fn busy(mut seed: u64, n: u32) -> u64 {
    for _ in 0..n {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    }
    seed
}

/// Receives `n` counts and returns their sum.
async fn collect(rx: &mut mpsc::UnboundedReceiver<u64>, n: u64) -> u64 {
    let mut sum = 0;
    for _ in 0..n {
        sum += rx.recv().await.expect("a reporter went away");
    }
    sum
}

// -- counting -------------------------------------------------------------------------------

#[derive(Debug)]
enum CountMsg {
    Increment,
    Total(oneshot::Sender<u64>),
}

async fn counting(scale: f64) -> f64 {
    let n = scaled(1_000_000.0, scale);
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut count = 0u64;
        while let Some(m) = rx.recv().await {
            match m {
                CountMsg::Increment => count += 1,
                CountMsg::Total(reply) => {
                    let _ = reply.send(count);
                }
            }
        }
    });
    let start = Instant::now();
    let producer = tokio::spawn(async move {
        for _ in 0..n {
            tx.send(CountMsg::Increment).unwrap();
        }
        let (otx, orx) = oneshot::channel();
        tx.send(CountMsg::Total(otx)).unwrap();
        orx.await.unwrap()
    });
    let got = producer.await.unwrap();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if got != n {
        wrong(format!("counting: {}", got));
    }
    ms
}

// -- chameneos ------------------------------------------------------------------------------

#[derive(Debug)]
enum Creature {
    Start,
    MeetWith(usize, u8),
    Change(u8),
    Leave,
}

fn complement(a: u8, b: u8) -> u8 {
    if a == b {
        a
    } else {
        3 - a - b
    }
}

async fn chameneos(scale: f64) -> f64 {
    let n = scaled(200_000.0, scale);
    const CREATURES: usize = 100;
    let (mall_tx, mut mall_rx) = mpsc::unbounded_channel::<(usize, u8)>();
    let (fin_tx, mut fin_rx) = mpsc::unbounded_channel::<u64>();
    let mut txs = Vec::new();
    let mut rxs = Vec::new();
    for _ in 0..CREATURES {
        let (tx, rx) = mpsc::unbounded_channel::<Creature>();
        txs.push(tx);
        rxs.push(rx);
    }
    let all = Arc::new(txs);
    {
        let all = all.clone();
        tokio::spawn(async move {
            let mut left = n;
            let mut waiting: Option<usize> = None;
            while let Some((who, colour)) = mall_rx.recv().await {
                if left == 0 {
                    let _ = all[who].send(Creature::Leave);
                } else if let Some(w) = waiting.take() {
                    left -= 1;
                    let _ = all[w].send(Creature::MeetWith(who, colour));
                } else {
                    waiting = Some(who);
                }
            }
        });
    }
    for (id, mut rx) in rxs.into_iter().enumerate() {
        let (all, mall, fin) = (all.clone(), mall_tx.clone(), fin_tx.clone());
        tokio::spawn(async move {
            let mut colour = (id % 3) as u8;
            let mut meetings = 0u64;
            while let Some(m) = rx.recv().await {
                match m {
                    Creature::Start => {}
                    Creature::MeetWith(other, c) => {
                        colour = complement(colour, c);
                        meetings += 1;
                        let _ = all[other].send(Creature::Change(colour));
                    }
                    Creature::Change(c) => {
                        colour = c;
                        meetings += 1;
                    }
                    Creature::Leave => {
                        let _ = fin.send(meetings);
                        return;
                    }
                }
                let _ = mall.send((id, colour));
            }
        });
    }
    let start = Instant::now();
    for tx in all.iter() {
        tx.send(Creature::Start).unwrap();
    }
    let got = collect(&mut fin_rx, CREATURES as u64).await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if got != 2 * n {
        wrong(format!("chameneos: {}", got));
    }
    ms
}

// -- big ----------------------------------------------------------------------------------

#[derive(Debug)]
enum Big {
    Start,
    Ping(usize),
    Pong,
}

async fn big(scale: f64) -> f64 {
    let pings = scaled(10_000.0, scale);
    const N: usize = 100;
    let (fin_tx, mut fin_rx) = mpsc::unbounded_channel::<u64>();
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..N).map(|_| mpsc::unbounded_channel::<Big>()).unzip();
    let all = Arc::new(txs);
    for (id, mut rx) in rxs.into_iter().enumerate() {
        let (all, fin) = (all.clone(), fin_tx.clone());
        tokio::spawn(async move {
            let mut rng = Rng(id as u64 + 1);
            let (mut left, mut pongs) = (pings, 0u64);
            while let Some(m) = rx.recv().await {
                match m {
                    Big::Start => {
                        let _ = all[rng.below(N as u64) as usize].send(Big::Ping(id));
                    }
                    Big::Ping(from) => {
                        let _ = all[from].send(Big::Pong);
                    }
                    Big::Pong => {
                        pongs += 1;
                        left -= 1;
                        if left == 0 {
                            let _ = fin.send(pongs);
                        } else {
                            let _ = all[rng.below(N as u64) as usize].send(Big::Ping(id));
                        }
                    }
                }
            }
        });
    }
    let start = Instant::now();
    for tx in all.iter() {
        tx.send(Big::Start).unwrap();
    }
    let got = collect(&mut fin_rx, N as u64).await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if got != N as u64 * pings {
        wrong(format!("big: {}", got));
    }
    ms
}

// -- concdict -----------------------------------------------------------------------------

const DICT_KEYS: u64 = 10_000;

#[derive(Debug)]
enum Dict {
    Write(i64, i64, oneshot::Sender<i64>),
    Read(i64, oneshot::Sender<i64>),
}

async fn concdict(scale: f64) -> f64 {
    let ops = scaled(10_000.0, scale);
    const N: u64 = 20;
    let (dict, mut rx) = mpsc::unbounded_channel::<Dict>();
    tokio::spawn(async move {
        let mut map: std::collections::HashMap<i64, i64> =
            (0..DICT_KEYS as i64).map(|k| (k, 2 * k)).collect();
        while let Some(m) = rx.recv().await {
            match m {
                Dict::Write(k, v, reply) => {
                    map.insert(k, v);
                    let _ = reply.send(v);
                }
                Dict::Read(k, reply) => {
                    let _ = reply.send(*map.get(&k).unwrap_or(&-1));
                }
            }
        }
    });
    let (fin_tx, mut fin_rx) = mpsc::unbounded_channel::<u64>();
    let start = Instant::now();
    for id in 0..N {
        let (dict, fin) = (dict.clone(), fin_tx.clone());
        tokio::spawn(async move {
            let mut rng = Rng(id + 1);
            let mut good = 0;
            for op in 0..ops {
                let key = rng.below(DICT_KEYS) as i64;
                let (otx, orx) = oneshot::channel();
                if op % 10 == 0 {
                    dict.send(Dict::Write(key, 2 * key, otx)).unwrap();
                } else {
                    dict.send(Dict::Read(key, otx)).unwrap();
                }
                if orx.await.unwrap() == 2 * key {
                    good += 1;
                }
            }
            let _ = fin.send(good);
        });
    }
    let got = collect(&mut fin_rx, N).await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if got != N * ops {
        wrong(format!("concdict: {}", got));
    }
    ms
}

// -- philosophers -------------------------------------------------------------------------

#[derive(Debug)]
enum Arb {
    Hungry(usize, oneshot::Sender<bool>),
    Ate(usize),
}

async fn philosophers(scale: f64) -> f64 {
    let meals = scaled(10_000.0, scale);
    const N: usize = 20;
    let (arb, mut rx) = mpsc::unbounded_channel::<Arb>();
    tokio::spawn(async move {
        let mut forks = [false; N];
        while let Some(m) = rx.recv().await {
            match m {
                Arb::Hungry(seat, reply) => {
                    let (l, r) = (seat, (seat + 1) % N);
                    if forks[l] || forks[r] {
                        let _ = reply.send(false);
                    } else {
                        forks[l] = true;
                        forks[r] = true;
                        let _ = reply.send(true);
                    }
                }
                Arb::Ate(seat) => {
                    let (l, r) = (seat, (seat + 1) % N);
                    if !forks[l] || !forks[r] {
                        wrong("philosophers: a fork was put down twice".into());
                    }
                    forks[l] = false;
                    forks[r] = false;
                }
            }
        }
    });
    let (fin_tx, mut fin_rx) = mpsc::unbounded_channel::<u64>();
    let start = Instant::now();
    for seat in 0..N {
        let (arb, fin) = (arb.clone(), fin_tx.clone());
        tokio::spawn(async move {
            let mut eaten = 0;
            while eaten < meals {
                let (otx, orx) = oneshot::channel();
                arb.send(Arb::Hungry(seat, otx)).unwrap();
                if orx.await.unwrap() {
                    eaten += 1;
                    arb.send(Arb::Ate(seat)).unwrap();
                }
            }
            let _ = fin.send(eaten);
        });
    }
    let got = collect(&mut fin_rx, N as u64).await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if got != N as u64 * meals {
        wrong(format!("philosophers: {}", got));
    }
    ms
}

// -- barber -------------------------------------------------------------------------------

#[derive(Debug)]
enum RoomMsg {
    Enter(usize),
    Next,
}
#[derive(Debug)]
enum Back {
    Full(usize),
    Served(usize),
}

async fn barber(scale: f64) -> f64 {
    let n = scaled(20_000.0, scale) as usize;
    const CHAIRS: usize = 100;
    let (room_tx, mut room_rx) = mpsc::unbounded_channel::<RoomMsg>();
    let (cut_tx, mut cut_rx) = mpsc::unbounded_channel::<usize>();
    let (back_tx, mut back_rx) = mpsc::unbounded_channel::<Back>();
    {
        let back = back_tx.clone();
        tokio::spawn(async move {
            let mut waiting = std::collections::VecDeque::new();
            let mut asleep = true;
            while let Some(m) = room_rx.recv().await {
                match m {
                    RoomMsg::Next => match waiting.pop_front() {
                        None => asleep = true,
                        Some(c) => {
                            let _ = cut_tx.send(c);
                        }
                    },
                    RoomMsg::Enter(c) if asleep => {
                        asleep = false;
                        let _ = cut_tx.send(c);
                    }
                    RoomMsg::Enter(c) if waiting.len() < CHAIRS => waiting.push_back(c),
                    RoomMsg::Enter(c) => {
                        let _ = back.send(Back::Full(c));
                    }
                }
            }
        });
    }
    {
        let room = room_tx.clone();
        tokio::spawn(async move {
            let mut work = 0u64;
            while let Some(c) = cut_rx.recv().await {
                work = work.wrapping_add(busy(c as u64, 100));
                let _ = room.send(RoomMsg::Next);
                let _ = back_tx.send(Back::Served(c));
            }
            std::hint::black_box(work);
        });
    }
    let start = Instant::now();
    let factory = tokio::spawn(async move {
        let mut served = vec![false; n];
        let mut count = 0;
        let mut away = std::collections::VecDeque::new();
        for c in 0..n {
            room_tx.send(RoomMsg::Enter(c)).unwrap();
        }
        while count < n {
            match back_rx.recv().await.unwrap() {
                Back::Full(c) => away.push_back(c),
                Back::Served(c) => {
                    if served[c] {
                        wrong("barber: a customer was served twice".into());
                    }
                    served[c] = true;
                    count += 1;
                    if let Some(b) = away.pop_front() {
                        room_tx.send(RoomMsg::Enter(b)).unwrap();
                    }
                }
            }
        }
        count
    });
    let got = factory.await.unwrap();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if got != n {
        wrong(format!("barber: {}", got));
    }
    ms
}

// -- bndbuffer ----------------------------------------------------------------------------

#[derive(Debug)]
enum Mgr {
    Data(u64, usize),
    Available(usize, u64),
    ProducerDone,
}

async fn bndbuffer(scale: f64) -> f64 {
    let per = scaled(5_000.0, scale);
    const P: usize = 40;
    const C: usize = 40;
    const CAPACITY: usize = 50;
    let (mgr_tx, mut mgr_rx) = mpsc::unbounded_channel::<Mgr>();
    let (ptxs, prxs): (Vec<_>, Vec<_>) = (0..P).map(|_| mpsc::unbounded_channel::<()>()).unzip();
    let (ctxs, crxs): (Vec<_>, Vec<_>) = (0..C).map(|_| mpsc::unbounded_channel::<u64>()).unzip();
    let (done_tx, done_rx) = oneshot::channel::<u64>();
    let producers = Arc::new(ptxs);
    let consumers = Arc::new(ctxs);
    {
        let (producers, consumers) = (producers.clone(), consumers.clone());
        tokio::spawn(async move {
            let mut buffer = std::collections::VecDeque::new();
            let mut idle: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
            let mut blocked: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
            let (mut live, mut sum) = (P, 0u64);
            let mut done = Some(done_tx);
            while let Some(m) = mgr_rx.recv().await {
                match m {
                    Mgr::Data(item, from) => {
                        if let Some(c) = idle.pop_front() {
                            let _ = consumers[c].send(item);
                            let _ = producers[from].send(());
                            continue;
                        }
                        buffer.push_back(item);
                        if buffer.len() < CAPACITY {
                            let _ = producers[from].send(());
                        } else {
                            blocked.push_back(from);
                        }
                        continue;
                    }
                    Mgr::Available(c, consumed) => {
                        if consumed != 0 {
                            sum += consumed - 1;
                        }
                        match buffer.pop_front() {
                            None => idle.push_back(c),
                            Some(item) => {
                                let _ = consumers[c].send(item);
                                if let Some(p) = blocked.pop_front() {
                                    let _ = producers[p].send(());
                                }
                                continue;
                            }
                        }
                    }
                    Mgr::ProducerDone => live -= 1,
                }
                if live == 0 && buffer.is_empty() && idle.len() == C {
                    if let Some(d) = done.take() {
                        let _ = d.send(sum);
                    }
                }
            }
        });
    }
    for (id, mut rx) in prxs.into_iter().enumerate() {
        let mgr = mgr_tx.clone();
        tokio::spawn(async move {
            let (mut next, end) = (id as u64 * per, id as u64 * per + per);
            let mut work = 0u64;
            while rx.recv().await.is_some() {
                if next == end {
                    let _ = mgr.send(Mgr::ProducerDone);
                    break;
                }
                work = work.wrapping_add(busy(next, 100));
                let _ = mgr.send(Mgr::Data(next, id));
                next += 1;
            }
            std::hint::black_box(work);
        });
    }
    let mut crxs_started = Vec::new();
    for (id, mut rx) in crxs.into_iter().enumerate() {
        let mgr = mgr_tx.clone();
        let (go_tx, go_rx) = oneshot::channel::<()>();
        crxs_started.push(go_tx);
        tokio::spawn(async move {
            let _ = go_rx.await;
            let _ = mgr.send(Mgr::Available(id, 0));
            let mut work = 0u64;
            while let Some(item) = rx.recv().await {
                work = work.wrapping_add(busy(item, 100));
                let _ = mgr.send(Mgr::Available(id, item + 1));
            }
            std::hint::black_box(work);
        });
    }
    let start = Instant::now();
    for go in crxs_started {
        let _ = go.send(());
    }
    for p in producers.iter() {
        p.send(()).unwrap();
    }
    let got = done_rx.await.unwrap();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let total = P as u64 * per;
    if got != total * (total - 1) / 2 {
        wrong(format!("bndbuffer: {}", got));
    }
    ms
}

// -- banking ------------------------------------------------------------------------------

#[derive(Debug)]
enum Bank {
    Debit(usize, i64),
    Credit(usize, i64),
    Credited,
    Balance(oneshot::Sender<i64>),
}

async fn banking(scale: f64) -> f64 {
    let n = scaled(100_000.0, scale);
    const ACCOUNTS: usize = 1000;
    let window = n.min(200);
    let (teller_tx, mut teller_rx) = mpsc::unbounded_channel::<()>();
    let (txs, rxs): (Vec<_>, Vec<_>) =
        (0..ACCOUNTS).map(|_| mpsc::unbounded_channel::<Bank>()).unzip();
    let all: Arc<Vec<Tx<Bank>>> = Arc::new(txs);
    for (id, mut rx) in rxs.into_iter().enumerate() {
        let (all, teller) = (all.clone(), teller_tx.clone());
        tokio::spawn(async move {
            let mut balance = 1_000_000i64;
            while let Some(m) = rx.recv().await {
                match m {
                    Bank::Debit(to, amount) => {
                        balance -= amount;
                        let _ = all[to].send(Bank::Credit(id, amount));
                    }
                    Bank::Credit(from, amount) => {
                        balance += amount;
                        let _ = all[from].send(Bank::Credited);
                    }
                    Bank::Credited => {
                        let _ = teller.send(());
                    }
                    Bank::Balance(reply) => {
                        let _ = reply.send(balance);
                    }
                }
            }
        });
    }
    let mut rng = Rng(42);
    let mut transfer = |all: &Arc<Vec<Tx<Bank>>>| {
        let from = rng.below(ACCOUNTS as u64) as usize;
        let to = rng.below(ACCOUNTS as u64) as usize;
        let amount = rng.below(1000) as i64;
        all[from].send(Bank::Debit(to, amount)).unwrap();
    };
    let start = Instant::now();
    for _ in 0..window {
        transfer(&all);
    }
    let mut completed = 0;
    for _ in window..n {
        teller_rx.recv().await.unwrap();
        completed += 1;
        transfer(&all);
    }
    while completed < n {
        teller_rx.recv().await.unwrap();
        completed += 1;
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut total = 0;
    for a in all.iter() {
        let (otx, orx) = oneshot::channel();
        a.send(Bank::Balance(otx)).unwrap();
        total += orx.await.unwrap();
    }
    if total != ACCOUNTS as i64 * 1_000_000 {
        wrong("banking: money was made or lost".into());
    }
    ms
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: savina-tokio <workload> <scale> <workers>");
        std::process::exit(2);
    }
    let scale: f64 = args[2].parse().expect("scale");
    let workers: usize = args[3].parse().expect("workers");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .expect("runtime");
    let name = args[1].as_str();
    let ms = rt.block_on(async move {
        match name {
            "counting" => counting(scale).await,
            "chameneos" => chameneos(scale).await,
            "big" => big(scale).await,
            "concdict" => concdict(scale).await,
            "philosophers" => philosophers(scale).await,
            "barber" => barber(scale).await,
            "bndbuffer" => bndbuffer(scale).await,
            "banking" => banking(scale).await,
            _ => {
                eprintln!("savina-tokio: no workload {}", name);
                std::process::exit(2);
            }
        }
    });
    println!("{} {:.3}", name, ms);
    rt.shutdown_background();
}
