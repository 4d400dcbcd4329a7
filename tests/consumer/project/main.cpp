// A program outside the troupe tree that uses only the public API.
#include <chrono>
#include <cstdio>

#include <troupe/troupe.hpp>

struct Deposit {
  int amount;
};
struct Balance {};

class Account : public troupe::Actor {
 public:
  void on(const Deposit& d) { balance_ += d.amount; }
  int on(const Balance&) { return balance_; }

 private:
  int balance_ = 0;
};

int main() {
  troupe::System system;
  auto acct = system.spawn<Account>("account");
  acct.tell(Deposit{10});
  acct.tell(Deposit{32});
  int b = acct.ask(Balance{}).get(std::chrono::seconds(5));
  std::printf("balance %d\n", b);
  std::fflush(stdout);
  acct.stop();
  system.join();
  return b == 42 ? 0 : 1;
}
