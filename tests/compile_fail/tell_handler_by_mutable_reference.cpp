// A handler taking its message by non-const lvalue reference: troupe moves the message in.
// expect: troupe: the actor's handler takes the message by non-const reference (on(M&))
#include <troupe/troupe.hpp>

struct Deposit {
  int amount;
};
class Account : public troupe::Actor {
 public:
  void on(Deposit& d) { balance_ += d.amount; }

 private:
  int balance_ = 0;
};

void pay(const troupe::Ref<Account>& account) { account.tell(Deposit{10}); }

int main() {}
