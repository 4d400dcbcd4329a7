// bench/savina/savina.go - the Savina workloads of savina-troupe, written the Go way:
// each actor is a goroutine that owns its state and reads its inbox channel; a reply is a
// send on a channel the request carried. Only where Go has a plainer idiom for the whole
// pattern is it used (bndbuffer: the bounded buffer is a buffered channel).
//
// usage: savina-go <workload> <scale>   (GOMAXPROCS sets the worker threads)
// Prints "<workload> <ms>"; a wrong result exits 1.
package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

func wrong(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "savina-go: wrong result: "+format+"\n", args...)
	os.Exit(1)
}

func scaled(base float64, scale float64) int {
	n := int(math.Round(base * scale))
	if n < 1 {
		return 1
	}
	return n
}

// rng is the xorshift every implementation uses.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s ^= r.s << 13
	r.s ^= r.s >> 7
	r.s ^= r.s << 17
	return r.s
}
func (r *rng) below(n int) int { return int(r.next() % uint64(n)) }

// busy is Savina's stand-in for real work: n rounds of an LCG.
func busy(seed uint64, n int) uint64 {
	for i := 0; i < n; i++ {
		seed = seed*6364136223846793005 + 1442695040888963407
	}
	return seed
}

// -- counting ------------------------------------------------------------------------------

func counting(scale float64) {
	n := scaled(1000000, scale)
	type msg struct{ total chan uint64 } // nil total: an increment
	inbox := make(chan msg, 1024)
	go func() {
		var count uint64
		for m := range inbox {
			if m.total == nil {
				count++
			} else {
				m.total <- count
				return
			}
		}
	}()
	result := make(chan uint64)
	start := time.Now()
	go func() { // the producer
		for i := 0; i < n; i++ {
			inbox <- msg{}
		}
		reply := make(chan uint64)
		inbox <- msg{total: reply}
		result <- <-reply
	}()
	got := <-result
	report("counting", start)
	if got != uint64(n) {
		wrong("counting: %d", got)
	}
}

// -- chameneos -----------------------------------------------------------------------------

type chameneo struct {
	inbox   chan cmsg
	colour  int
	meeting uint64
}
type cmsg struct {
	kind   int // 0 meet-with, 1 change, 2 leave
	other  *chameneo
	colour int
}
type meet struct {
	who    *chameneo
	colour int
}

func complement(a, b int) int {
	if a == b {
		return a
	}
	return 3 - a - b
}

func chameneos(scale float64) {
	n := scaled(200000, scale)
	const creatures = 100
	mall := make(chan meet, creatures)
	finished := make(chan uint64, creatures)
	go func() {
		left := n
		var waiting *chameneo
		for m := range mall {
			if left == 0 {
				m.who.inbox <- cmsg{kind: 2}
			} else if waiting == nil {
				waiting = m.who
			} else {
				left--
				waiting.inbox <- cmsg{kind: 0, other: m.who, colour: m.colour}
				waiting = nil
			}
		}
	}()
	all := make([]*chameneo, creatures)
	for i := range all {
		all[i] = &chameneo{inbox: make(chan cmsg, 2), colour: i % 3}
	}
	start := time.Now()
	for _, c := range all {
		go func(c *chameneo) {
			mall <- meet{c, c.colour}
			for m := range c.inbox {
				switch m.kind {
				case 0:
					c.colour = complement(c.colour, m.colour)
					c.meeting++
					m.other.inbox <- cmsg{kind: 1, colour: c.colour}
				case 1:
					c.colour = m.colour
					c.meeting++
				case 2:
					finished <- c.meeting
					return
				}
				mall <- meet{c, c.colour}
			}
		}(c)
	}
	var sum uint64
	for i := 0; i < creatures; i++ {
		sum += <-finished
	}
	report("chameneos", start)
	close(mall)
	if sum != uint64(2*n) {
		wrong("chameneos: %d", sum)
	}
}

// -- big -----------------------------------------------------------------------------------

func big(scale float64) {
	pings := scaled(10000, scale)
	const n = 100
	type bmsg struct{ from int } // from < 0: a pong
	inboxes := make([]chan bmsg, n)
	for i := range inboxes {
		inboxes[i] = make(chan bmsg, n+1) // at most one ping from each, plus our pong
	}
	finished := make(chan uint64, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func(id int) {
			r := rng{uint64(id + 1)}
			left := pings
			var pongs uint64
			inboxes[r.below(n)] <- bmsg{id}
			for m := range inboxes[id] {
				if m.from >= 0 {
					inboxes[m.from] <- bmsg{-1}
					continue
				}
				pongs++
				left--
				if left == 0 {
					finished <- pongs // keep answering pings until everyone is done
				} else {
					inboxes[r.below(n)] <- bmsg{id}
				}
			}
		}(i)
	}
	var sum uint64
	for i := 0; i < n; i++ {
		sum += <-finished
	}
	report("big", start)
	for _, in := range inboxes {
		close(in)
	}
	if sum != uint64(n*pings) {
		wrong("big: %d", sum)
	}
}

// -- concdict ------------------------------------------------------------------------------

const dictKeys = 10000

func concdict(scale float64) {
	ops := scaled(10000, scale)
	const n = 20
	type req struct {
		write      bool
		key, value int
		reply      chan int
	}
	dict := make(chan req, n)
	go func() {
		m := make(map[int]int)
		for k := 0; k < dictKeys; k++ {
			m[k] = 2 * k
		}
		for r := range dict {
			if r.write {
				m[r.key] = r.value
				r.reply <- r.value
			} else if v, ok := m[r.key]; ok {
				r.reply <- v
			} else {
				r.reply <- -1
			}
		}
	}()
	finished := make(chan uint64, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func(id int) {
			r := rng{uint64(id + 1)}
			reply := make(chan int, 1)
			var good uint64
			for op := 0; op < ops; op++ {
				key := r.below(dictKeys)
				dict <- req{write: op%10 == 0, key: key, value: 2 * key, reply: reply}
				if <-reply == 2*key {
					good++
				}
			}
			finished <- good
		}(i)
	}
	var sum uint64
	for i := 0; i < n; i++ {
		sum += <-finished
	}
	report("concdict", start)
	close(dict)
	if sum != uint64(n*ops) {
		wrong("concdict: %d", sum)
	}
}

// -- philosophers --------------------------------------------------------------------------

func philosophers(scale float64) {
	meals := scaled(10000, scale)
	const n = 20
	type amsg struct {
		seat  int
		reply chan bool // nil: done eating
	}
	arbitrator := make(chan amsg, n)
	go func() {
		forks := make([]bool, n)
		for m := range arbitrator {
			l, r := m.seat, (m.seat+1)%n
			if m.reply == nil {
				if !forks[l] || !forks[r] {
					wrong("philosophers: a fork was put down twice")
				}
				forks[l], forks[r] = false, false
			} else if forks[l] || forks[r] {
				m.reply <- false
			} else {
				forks[l], forks[r] = true, true
				m.reply <- true
			}
		}
	}()
	finished := make(chan uint64, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func(seat int) {
			reply := make(chan bool, 1)
			var eaten uint64
			for eaten < uint64(meals) {
				arbitrator <- amsg{seat, reply}
				if <-reply {
					eaten++
					arbitrator <- amsg{seat, nil}
				}
			}
			finished <- eaten
		}(i)
	}
	var sum uint64
	for i := 0; i < n; i++ {
		sum += <-finished
	}
	report("philosophers", start)
	close(arbitrator)
	if sum != uint64(n*meals) {
		wrong("philosophers: %d", sum)
	}
}

// -- barber --------------------------------------------------------------------------------

func barber(scale float64) {
	n := scaled(20000, scale)
	const chairs = 100
	type rmsg struct {
		customer int
		next     bool // from the barber: ready for the next one
	}
	// Every channel holds at most one message per customer, so none ever blocks a sender
	// that the receiver is waiting on.
	room := make(chan rmsg, n+1)
	cut := make(chan int, 1)
	full := make(chan int, n)
	served := make(chan int, n)
	go func() { // the waiting room
		var waiting []int
		asleep := true
		for m := range room {
			switch {
			case m.next && len(waiting) == 0:
				asleep = true
			case m.next:
				cut <- waiting[0]
				waiting = waiting[1:]
			case asleep:
				asleep = false
				cut <- m.customer
			case len(waiting) < chairs:
				waiting = append(waiting, m.customer)
			default:
				full <- m.customer
			}
		}
	}()
	go func() { // the barber
		var work uint64
		for c := range cut {
			work += busy(uint64(c), 100)
			room <- rmsg{next: true}
			served <- c
		}
	}()
	start := time.Now()
	done := make([]bool, n)
	count := 0
	var turnedAway []int
	for i := 0; i < n; i++ {
		room <- rmsg{customer: i}
	}
	for count < n { // the customers' factory
		select {
		case c := <-full:
			turnedAway = append(turnedAway, c)
		case c := <-served:
			if done[c] {
				wrong("barber: a customer was served twice")
			}
			done[c] = true
			count++
			if len(turnedAway) > 0 {
				room <- rmsg{customer: turnedAway[0]}
				turnedAway = turnedAway[1:]
			}
		}
	}
	report("barber", start)
	close(room)
	close(cut)
}

// -- bndbuffer -----------------------------------------------------------------------------

func bndbuffer(scale float64) {
	per := scaled(5000, scale)
	const producers, consumers, capacity = 40, 40, 50
	buffer := make(chan uint64, capacity) // Go's bounded buffer
	producersDone := make(chan bool, producers)
	sums := make(chan uint64, consumers)
	start := time.Now()
	for p := 0; p < producers; p++ {
		go func(first int) {
			var work uint64
			for i := first; i < first+per; i++ {
				work += busy(uint64(i), 100)
				buffer <- uint64(i)
			}
			producersDone <- work != 1 // keeps the work from being optimised away
		}(p * per)
	}
	for c := 0; c < consumers; c++ {
		go func() {
			var sum, work uint64
			for item := range buffer {
				work += busy(item, 100)
				sum += item
			}
			if work == 1 {
				sum++
			}
			sums <- sum
		}()
	}
	for p := 0; p < producers; p++ {
		<-producersDone
	}
	close(buffer)
	var sum uint64
	for c := 0; c < consumers; c++ {
		sum += <-sums
	}
	report("bndbuffer", start)
	total := uint64(producers * per)
	if sum != total*(total-1)/2 {
		wrong("bndbuffer: %d", sum)
	}
}

// -- banking -------------------------------------------------------------------------------

type account struct {
	inbox   chan bankMsg
	balance int64
}
type bankMsg struct {
	kind   int // 0 debit, 1 credit, 2 credited, 3 balance
	to     *account
	from   *account
	amount int64
	reply  chan int64
}

func banking(scale float64) {
	n := scaled(100000, scale)
	const accounts = 1000
	window := 200
	if n < window {
		window = n
	}
	done := make(chan bool, window)
	all := make([]*account, accounts)
	for i := range all {
		// At most `window` messages are in flight at once: no inbox can fill up.
		all[i] = &account{inbox: make(chan bankMsg, window+1), balance: 1000000}
	}
	for _, a := range all {
		go func(a *account) {
			for m := range a.inbox {
				switch m.kind {
				case 0: // debit, then ask the destination to credit
					a.balance -= m.amount
					m.to.inbox <- bankMsg{kind: 1, from: a, amount: m.amount}
				case 1:
					a.balance += m.amount
					m.from.inbox <- bankMsg{kind: 2}
				case 2:
					done <- true
				case 3:
					m.reply <- a.balance
				}
			}
		}(a)
	}
	r := rng{42}
	send := func() {
		from, to := r.below(accounts), r.below(accounts)
		all[from].inbox <- bankMsg{kind: 0, to: all[to], amount: int64(r.below(1000))}
	}
	start := time.Now()
	for i := 0; i < window; i++ {
		send()
	}
	completed := 0
	for i := window; i < n; i++ {
		<-done
		completed++
		send()
	}
	for completed < n {
		<-done
		completed++
	}
	report("banking", start)
	var total int64
	reply := make(chan int64)
	for _, a := range all {
		a.inbox <- bankMsg{kind: 3, reply: reply}
		total += <-reply
		close(a.inbox)
	}
	if total != accounts*1000000 {
		wrong("banking: money was made or lost")
	}
}

func report(name string, start time.Time) {
	fmt.Printf("%s %.3f\n", name, float64(time.Since(start).Nanoseconds())/1e6)
}

func main() {
	workloads := map[string]func(float64){
		"counting": counting, "chameneos": chameneos, "big": big, "concdict": concdict,
		"philosophers": philosophers, "barber": barber, "bndbuffer": bndbuffer,
		"banking": banking,
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: savina-go <workload> <scale>")
		os.Exit(2)
	}
	run, ok := workloads[os.Args[1]]
	scale, err := strconv.ParseFloat(os.Args[2], 64)
	if !ok || err != nil {
		fmt.Fprintln(os.Stderr, "savina-go: unknown workload or bad scale")
		os.Exit(2)
	}
	run(scale)
}
