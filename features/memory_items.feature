Feature: Users inspect and correct what memvault remembers about them
  Every memory can be read, corrected, deleted and restored by its owner,
  every change leaves an audit entry, and nobody else can touch it.

  Background:
    Given the memvault API is running
    And "alice" has a token

  Scenario: A user corrects a memory and can see why it changed
    Given "alice" remembered the preference "Likes coffee"
    When "alice" changes that memory to "Likes green tea" because "changed my mind"
    Then the memory says "Likes green tea"
    And its history shows "create, update"
    And the last history entry gives the reason "changed my mind"

  Scenario: A deleted memory can be restored, and deleting twice changes nothing
    Given "alice" remembered the fact "Lives in Lyon"
    When "alice" deletes that memory
    And "alice" deletes that memory
    Then the memory is "deleted"
    When "alice" restores that memory
    Then the memory is "active"
    And its history shows "create, delete, restore"

  Scenario: A deleted memory cannot be edited until it is restored
    Given "alice" remembered the fact "Lives in Lyon"
    When "alice" deletes that memory
    And "alice" changes that memory to "Lives in Paris" because "moved"
    Then the answer is a 409 problem "Conflict"

  Scenario: Another user cannot read or change the memory
    Given "alice" remembered the constraint "Never call before 9am"
    And "mallory" has a token
    When "mallory" reads that memory
    Then the answer is a 404 problem "MemoryItemNotFound"
    When "mallory" deletes that memory
    Then the answer is a 404 problem "MemoryItemNotFound"
    And "alice" still sees the memory as "active"
