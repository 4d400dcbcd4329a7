// Tests of troupe/task.hpp against g++ 12's coroutine miscompile: `co_await` in the
// condition of an if, while, for, do or switch, in a coroutine that declares no local
// variable. g++ 12 then puts the hidden condition variable ahead of the frame's resume
// pointer, and the handler used to hang without a word. Now every such handler either
// runs correctly (clang, a fixed g++) or is refused with MiscompiledCoroutine on its
// first run; never a hang.
//
// TROUPE_COND_AWAIT_MISCOMPILED (tests/meson.build) says which of the two this compiler
// must give: meson compiles and runs a bare coroutine of that shape at configure time.
#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include "../support.hpp"
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

using support::eventually;

#ifndef TROUPE_COND_AWAIT_MISCOMPILED
#error "tests/meson.build defines TROUPE_COND_AWAIT_MISCOMPILED (0 or 1)"
#endif

namespace {

constexpr bool kMiscompiled = TROUPE_COND_AWAIT_MISCOMPILED != 0;

/// What an affected shape must give: the right answer, or the loud refusal.
const std::string kAffected = kMiscompiled ? "MiscompiledCoroutine" : "1";

/// How an ask ended within a few seconds: its value, the troupe error's name, or
/// "not ready" (the silent hang this file exists to rule out).
std::string answer(const troupe::Future<int>& f) {
  if (!f.wait_for(5s)) return "not ready";
  if (f.error()) return support::error_name(f.error());
  return std::to_string(f.get());
}

struct Yes {};
struct Number {};

/// Answers true for Yes and 1 for Number, so every shape below takes its "1" branch.
class Oracle : public troupe::Actor {
 public:
  bool on(const Yes&) { return true; }
  int on(const Number&) { return 1; }
};

// One message per shape. Each handler is written exactly as the shape: no local variable.
struct IfAwait {};
struct IfNotAwait {};
struct IfAwaitEquals {};
struct SwitchAwait {};
struct WhileAwait {};
struct ForAwait {};
struct DoWhileAwait {};
struct IfAwaitInTell {};
struct AwaitsBadTask {};
// Shapes g++ 12 compiles right.
struct VariableFirst {};
struct ConditionDeclaration {};
struct WhileWithLocal {};

class Asker : public troupe::Actor {
 public:
  explicit Asker(troupe::Ref<Oracle> oracle) : oracle_(std::move(oracle)) {}

  troupe::Task<int> on(IfAwait) {
    if (co_await oracle_.ask(Yes{})) co_return 1;
    co_return 2;
  }
  troupe::Task<int> on(IfNotAwait) {
    if (!co_await oracle_.ask(Yes{})) co_return 2;
    co_return 1;
  }
  troupe::Task<int> on(IfAwaitEquals) {
    if (co_await oracle_.ask(Number{}) == 1) co_return 1;
    co_return 2;
  }
  troupe::Task<int> on(SwitchAwait) {
    switch (co_await oracle_.ask(Number{})) {
      case 1:
        co_return 1;
      default:
        co_return 2;
    }
  }
  troupe::Task<int> on(WhileAwait) {
    while (co_await oracle_.ask(Yes{})) co_return 1;
    co_return 2;
  }
  troupe::Task<int> on(ForAwait) {
    for (; co_await oracle_.ask(Yes{});) co_return 1;
    co_return 2;
  }
  troupe::Task<int> on(DoWhileAwait) {
    do {
    } while (!co_await oracle_.ask(Yes{}));
    co_return 1;
  }
  troupe::Task<void> on(IfAwaitInTell) {
    if (co_await oracle_.ask(Yes{})) ++told_;
  }
  int on(Number) { return told_; }

  /// A well-formed handler awaiting a nested Task of the affected shape: the refusal
  /// reaches it as an exception at the co_await, where it can be caught.
  troupe::Task<int> on(AwaitsBadTask) {
    try {
      int got = co_await affected_helper();
      co_return got;
    } catch (const troupe::MiscompiledCoroutine&) {
      co_return -1;
    }
  }

  troupe::Task<int> on(VariableFirst) {
    bool yes = co_await oracle_.ask(Yes{});
    if (yes) co_return 1;
    co_return 2;
  }
  troupe::Task<int> on(ConditionDeclaration) {
    if (bool yes = co_await oracle_.ask(Yes{})) co_return yes ? 1 : 3;
    co_return 2;
  }
  troupe::Task<int> on(WhileWithLocal) {
    int rounds = 0;
    while (co_await oracle_.ask(Yes{})) {
      if (++rounds == 3) break;
    }
    co_return rounds == 3 ? 1 : 2;
  }

 private:
  troupe::Task<int> affected_helper() {
    if (co_await oracle_.ask(Yes{})) co_return 1;
    co_return 2;
  }

  troupe::Ref<Oracle> oracle_;
  int told_ = 0;
};

/// A fresh system and asker per shape: a refused handler fails its actor.
struct Fixture {
  troupe::System system{{.workers = 2}};
  troupe::Ref<Oracle> oracle = system.spawn<Oracle>();
  troupe::Ref<Asker> asker = system.spawn<Asker>({}, oracle);
};

template <class M>
std::string ask_fresh() {
  Fixture f;
  return answer(f.asker.ask(M{}));
}

}  // namespace

TEST_CASE("the compiler probe agrees with what this build does to `if (co_await f)`") {
  // If meson's probe and the real handler disagreed, the other expectations would be moot.
  std::string got = ask_fresh<IfAwait>();
  CHECK(got != "not ready");
  CHECK(got == kAffected);
}

TEST_CASE("`if (co_await f)` answers or is refused loudly, never hangs") {
  CHECK(ask_fresh<IfAwait>() == kAffected);
}

TEST_CASE("`if (!co_await f)` answers or is refused loudly, never hangs") {
  CHECK(ask_fresh<IfNotAwait>() == kAffected);
}

TEST_CASE("`if (co_await f == 1)` answers or is refused loudly, never hangs") {
  CHECK(ask_fresh<IfAwaitEquals>() == kAffected);
}

TEST_CASE("`switch (co_await f)` answers or is refused loudly, never hangs") {
  CHECK(ask_fresh<SwitchAwait>() == kAffected);
}

TEST_CASE("`while (co_await f)` in a coroutine without locals answers or is refused loudly") {
  CHECK(ask_fresh<WhileAwait>() == kAffected);
}

TEST_CASE("`for (; co_await f;)` answers or is refused loudly, never hangs") {
  CHECK(ask_fresh<ForAwait>() == kAffected);
}

TEST_CASE("`do {} while (!co_await f)` answers or is refused loudly, never hangs") {
  CHECK(ask_fresh<DoWhileAwait>() == kAffected);
}

TEST_CASE("a refused coroutine handler fails its actor with MiscompiledCoroutine, naming the fix") {
  Fixture f;
  auto first = f.asker.ask(IfAwait{});
  if (!kMiscompiled) {
    CHECK(answer(first) == "1");
    return;
  }
  REQUIRE(answer(first) == "MiscompiledCoroutine");
  try {
    std::rethrow_exception(first.error());
  } catch (const troupe::MiscompiledCoroutine& e) {
    std::string what = e.what();
    CHECK(what.find("bool ok = co_await f; if (ok)") != std::string::npos);
    CHECK(what.find("A compiler note") != std::string::npos);
  }
  REQUIRE(eventually([&] { return !f.asker.alive(); }));
}

TEST_CASE("a Task<void> tell handler of the affected shape runs or fails its actor at once") {
  Fixture f;
  f.asker.tell(IfAwaitInTell{});
  if (kMiscompiled) {
    REQUIRE(eventually([&] { return !f.asker.alive(); }, 5s));
  } else {
    // Handlers interleave: the count is 1 once the suspended handler has resumed.
    CHECK(eventually([&] { return answer(f.asker.ask(Number{})) == "1"; }, 5s));
  }
}

TEST_CASE("awaiting a nested Task of the affected shape throws at the co_await, and can be "
          "caught") {
  Fixture f;
  CHECK(answer(f.asker.ask(AwaitsBadTask{})) == (kMiscompiled ? "-1" : "1"));
  CHECK(f.asker.alive());
}

TEST_CASE("a coroutine lambda with `if (co_await f)` is compiled right, even by g++ 12") {
  // The lambda's closure object keeps g++ from putting the hidden variable first.
  Fixture f;
  auto oracle = f.oracle;
  auto lambda = f.system.spawn([oracle](int) -> troupe::Task<int> {
    if (co_await oracle.ask(Yes{})) co_return 1;
    co_return 2;
  });
  CHECK(answer(lambda.ask(0)) == "1");
}

TEST_CASE("the shapes g++ 12 compiles right answer on every compiler") {
  CHECK(ask_fresh<VariableFirst>() == "1");
  CHECK(ask_fresh<ConditionDeclaration>() == "1");
  CHECK(ask_fresh<WhileWithLocal>() == "1");
}
