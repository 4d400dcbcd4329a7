#!/usr/bin/env python3
"""The Python peer of bench/queue_workloads.cpp: the same shapes with the standard library.

    python3 queue_peer.py WORKLOAD ITEMS     # prints one number: ns per item (or per round)

wq11_64 / wq11_inf / wq44_64 / wq44_inf: P producer threads put ITEMS/P integers each into a
queue.Queue(maxsize), C consumer threads get + task_done until a sentinel; the main thread
joins the producers, then queue.join() (the timed span), as the seeds do. semaphore: one
thread acquires and releases a Semaphore(1). event: two threads wake each other through
two Events (set -> wait -> clear), as the troupe workload does.
"""
import queue
import sys
import threading
import time

STOP = -1


def work_queue(items, producers, consumers, maxsize):
    q = queue.Queue(maxsize)
    per = items // producers
    total = per * producers
    sums = []

    def produce(first):
        for i in range(first, first + per):
            q.put(i)

    def consume():
        s = 0
        while True:
            item = q.get()
            q.task_done()
            if item == STOP:
                break
            s += item
        sums.append(s)

    cs = [threading.Thread(target=consume) for _ in range(consumers)]
    ps = [threading.Thread(target=produce, args=(k * per,)) for k in range(producers)]
    start = time.perf_counter_ns()
    for t in cs:
        t.start()
    for t in ps:
        t.start()
    for t in ps:
        t.join()
    q.join()
    ns = time.perf_counter_ns() - start
    for _ in cs:
        q.put(STOP)
    for t in cs:
        t.join()
    assert sum(sums) == total * (total - 1) // 2, "wrong sum"
    return ns / total


def semaphore(n):
    sem = threading.Semaphore(1)
    start = time.perf_counter_ns()
    for _ in range(n):
        sem.acquire()
        sem.release()
    return (time.perf_counter_ns() - start) / n


def event(n):
    a, b = threading.Event(), threading.Event()
    woke = [0, 0]

    def side(mine, theirs, first, k):
        if first:
            theirs.set()
        for i in range(n):
            if mine.wait():
                woke[k] += 1
            mine.clear()
            if i + 1 < n or not first:
                theirs.set()

    ta = threading.Thread(target=side, args=(a, b, True, 0))
    tb = threading.Thread(target=side, args=(b, a, False, 1))
    start = time.perf_counter_ns()
    tb.start()
    ta.start()
    ta.join()
    tb.join()
    ns = time.perf_counter_ns() - start
    assert woke == [n, n]
    return ns / (2 * n)


def main():
    name, n = sys.argv[1], int(sys.argv[2])
    shapes = {"wq11_64": (1, 1, 64), "wq11_inf": (1, 1, 0), "wq44_64": (4, 4, 64),
              "wq44_inf": (4, 4, 0)}
    if name in shapes:
        p, c, m = shapes[name]
        print(work_queue(n, p, c, m))
    elif name == "semaphore":
        print(semaphore(n))
    elif name == "event":
        print(event(n))
    else:
        sys.exit(f"queue_peer.py: unknown workload {name}")


if __name__ == "__main__":
    main()
