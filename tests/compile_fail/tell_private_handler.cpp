// Telling an actor whose handler is private (class members are private by default).
// expect: troupe: the actor has no public handler for this message type: is its on(...) private
#include <troupe/troupe.hpp>

struct Deposit {
  int amount;
};
class Account : public troupe::Actor {
  void on(const Deposit& d) { balance_ += d.amount; }
  int balance_ = 0;
};

void pay(const troupe::Ref<Account>& account) { account.tell(Deposit{10}); }

int main() {}
