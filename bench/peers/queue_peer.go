// The Go peer of bench/queue_workloads.cpp: the same shapes, written the idiomatic Go way.
//
//	go build -o queue-peer queue_peer.go && ./queue-peer WORKLOAD ITEMS
//
// Prints one number: ns per item (or per round). wq*: P producer goroutines send ITEMS/P
// integers each on a buffered channel (capacity 64, or ITEMS for "unbounded": Go has no
// unbounded channel), C consumer goroutines receive and call wg.Done (task_done); main
// waits for the producers, then wg.Wait (join). semaphore: a buffered channel of 1 as the
// semaphore, acquired and released by one goroutine. event: two goroutines wake each other
// through two channels of capacity 1. askco: a request carrying its reply channel.
// GOMAXPROCS is the caller's (bench/queues.sh sets it to the worker count).
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func workQueue(items, producers, consumers, capacity int) float64 {
	if capacity == 0 {
		capacity = items
	}
	ch := make(chan int64, capacity)
	per := items / producers
	total := per * producers
	var tasks sync.WaitGroup
	var prods sync.WaitGroup
	var cons sync.WaitGroup
	sums := make([]int64, consumers)
	tasks.Add(total)
	start := time.Now()
	for c := 0; c < consumers; c++ {
		cons.Add(1)
		go func(c int) {
			defer cons.Done()
			var s int64
			for v := range ch {
				s += v
				tasks.Done()
			}
			sums[c] = s
		}(c)
	}
	for p := 0; p < producers; p++ {
		prods.Add(1)
		go func(first int) {
			defer prods.Done()
			for i := first; i < first+per; i++ {
				ch <- int64(i)
			}
		}(p * per)
	}
	prods.Wait()
	tasks.Wait()
	ns := float64(time.Since(start).Nanoseconds())
	close(ch)
	cons.Wait()
	var sum int64
	for _, s := range sums {
		sum += s
	}
	if sum != int64(total)*int64(total-1)/2 {
		fmt.Fprintln(os.Stderr, "wrong sum")
		os.Exit(3)
	}
	return ns / float64(total)
}

func semaphore(n int) float64 {
	sem := make(chan struct{}, 1)
	start := time.Now()
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		<-sem
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func event(n int) float64 {
	a, b := make(chan struct{}, 1), make(chan struct{}, 1)
	var wg sync.WaitGroup
	side := func(mine, theirs chan struct{}, first bool) {
		defer wg.Done()
		if first {
			theirs <- struct{}{}
		}
		for i := 0; i < n; i++ {
			<-mine
			if i+1 < n || !first {
				theirs <- struct{}{}
			}
		}
	}
	wg.Add(2)
	start := time.Now()
	go side(b, a, false)
	go side(a, b, true)
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(2*n)
}

type query struct {
	v     int64
	reply chan int64
}

func askco(n int) float64 {
	reqs := make(chan query)
	go func() {
		for q := range reqs {
			q.reply <- q.v + 1
		}
	}()
	reply := make(chan int64, 1)
	start := time.Now()
	var v int64
	for i := 0; i < n; i++ {
		reqs <- query{v, reply}
		v = <-reply
	}
	ns := float64(time.Since(start).Nanoseconds())
	close(reqs)
	if v != int64(n) {
		os.Exit(3)
	}
	return ns / float64(n)
}

func main() {
	name := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	var r float64
	switch name {
	case "wq11_64":
		r = workQueue(n, 1, 1, 64)
	case "wq11_inf":
		r = workQueue(n, 1, 1, 0)
	case "wq44_64":
		r = workQueue(n, 4, 4, 64)
	case "wq44_inf":
		r = workQueue(n, 4, 4, 0)
	case "semaphore":
		r = semaphore(n)
	case "event":
		r = event(n)
	case "askco":
		r = askco(n)
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", name)
		os.Exit(2)
	}
	fmt.Println(r)
}
