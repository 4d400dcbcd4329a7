// bench/savina/nested_ask_repro.cpp - the crash found while writing Savina's banking on
// troupe (bench/README.md, "Savina"): a coroutine handler awaits an ask whose handler is
// itself a coroutine that suspends on an ask. Exits 0 printing 1 when it works; at commit
// 5494b10 (release build, 2 workers) 11 of 20 runs crashed (SIGSEGV, a jump to a
// non-executable address); a -O1 build hangs or crashes every time. Asking the
// middle actor from a plain thread works, and so does awaiting a Task handler that does not
// suspend. The cause is the temporary `Debit{leaf_}` (it holds a Ref) inside Top's awaited
// expression: naming it, or naming the future, makes 30 runs of 30 pass, and clang never
// fails; a g++ 12 coroutine bug with temporaries (README, "A compiler note"). The runtime
// code at 52f2095 fails the same way. Built, not run as a test, until troupe can detect it.
#include <chrono>
#include <cstdio>

#include <troupe/troupe.hpp>

struct Credit {};
struct Go {};

class Leaf : public troupe::Actor {
 public:
  bool on(const Credit&) { return true; }
};

struct Debit {
  troupe::Ref<Leaf> to;
};

class Middle : public troupe::Actor {
 public:
  troupe::Task<bool> on(const Debit& d) { co_return co_await d.to.ask(Credit{}); }
};

class Top : public troupe::Actor {
 public:
  Top(troupe::Ref<Middle> middle, troupe::Ref<Leaf> leaf, troupe::Promise<int> done)
      : middle_(std::move(middle)), leaf_(std::move(leaf)), done_(std::move(done)) {}
  troupe::Task<void> on(const Go&) {
    bool ok = co_await middle_.ask(Debit{leaf_});
    done_.set_value(ok ? 1 : 0);
  }

 private:
  troupe::Ref<Middle> middle_;
  troupe::Ref<Leaf> leaf_;
  troupe::Promise<int> done_;
};

int main() {
  troupe::System system({.workers = 2});
  troupe::Promise<int> done;
  auto result = done.future();
  auto leaf = system.spawn<Leaf>();
  auto middle = system.spawn<Middle>();
  auto top = system.spawn<Top>(troupe::SpawnOptions{}, middle, leaf, std::move(done));
  top.tell(Go{});
  std::printf("%d\n", result.get(std::chrono::seconds(5)));
}
