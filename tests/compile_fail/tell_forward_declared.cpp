// Telling an actor whose class is only declared here (its header is not included).
// expect: troupe: the actor class is only declared here, not defined
#include <troupe/troupe.hpp>

struct Deposit {
  int amount;
};
class Account;

void pay(const troupe::Ref<Account>& account) { account.tell(Deposit{10}); }

int main() {}
