Feature: Every user message goes through a visible, recoverable extraction job
  A user turn with text becomes one job. A worker turns it into memories; a failing
  attempt is retried with growing backoff until the retry budget is spent; a dead job
  keeps its reason until an operator replays it; a job whose worker died is rescued when
  its lease runs out. Nothing is lost and nothing is done twice.

  Background:
    Given the memvault API is running
    And "alice" has a token

  Scenario: A user message becomes a pending job, and a worker turns it into a memory
    Given the job workers are paused
    When "alice" says "I love sushi"
    Then her job is "pending" after 0 attempts
    When the job workers resume
    Then her job is "success" after 0 attempts
    And "alice" has the preference "I love sushi", made by her job

  Scenario: A failing extraction is retried with growing backoff until it succeeds
    Given the job workers are paused
    And extraction of "alice"'s messages fails 2 times with "model timed out"
    When "alice" says "I love sushi"
    And a worker attempts her job
    Then her job is "failed" after 1 attempt
    And its last error says "model timed out"
    And its next retry is due 50 ms after the failure
    And its retry is queued for when it is due
    When a worker attempts her job
    Then her job is "failed" after 2 attempts
    And its next retry is due 100 ms after the failure
    And its retry is queued for when it is due
    When a worker attempts her job
    Then her job is "success" after 2 attempts
    And "alice" has the preference "I love sushi", made by her job

  Scenario: A job that fails on every attempt is dead with its reason until an operator replays it
    Given extraction of "alice"'s messages fails 3 times with "model timed out"
    When "alice" says "I love sushi"
    Then her job is "dead" after 3 attempts
    And its last error says "model timed out"
    And no retry is scheduled
    And "alice" has no memories
    When an operator retries her job because "the model is back"
    Then the operator sees it "pending" after 0 attempts
    And her job is "success" after 0 attempts
    And "alice" has the preference "I love sushi", made by her job

  Scenario: A job whose worker died is rescued when its lease runs out, and finished
    Given the job workers are paused
    And a worker took "alice"'s message "I love sushi" on attempt 2 and died
    Then her job is "failed" after 2 attempts
    And its last error says "lease expired"
    And its next retry is due 100 ms after the failure
    And its retry is queued for when it is due
    When the job workers resume
    Then her job is "success" after 2 attempts
    And "alice" has the preference "I love sushi", made by her job

  Scenario: A message of a user whose job is running is parked, and runs when that job ends
    Given extraction of "alice"'s message "I love sushi" is held
    When "alice" says "I love sushi"
    Then her job is "processing" after 0 attempts
    When "alice" says "I love ramen"
    Then her job is "pending" after 0 attempts
    And her job is parked, with no message on its way
    When the held extraction goes on
    Then her job is "success" after 0 attempts
    And "alice" has 2 memories
    And no job of "alice" was sent to the queue more than twice

  Scenario: A worker whose lease ran out and was rescued cannot save its work
    Given extraction of "alice"'s message "I love sushi" is held
    When "alice" says "I love sushi"
    Then her job is "processing" after 0 attempts
    When her job's lease runs out and the sweeper rescues it
    Then her job is "failed" after 1 attempt
    And its last error says "lease expired"
    When the held extraction goes on
    Then her job is "success" after 1 attempt
    And "alice" has the preference "I love sushi", made by her job
    And "alice" has 1 memory

  Scenario: The same event delivered twice yields one job
    When "alice" says "I love sushi"
    Then her job is "success" after 0 attempts
    When the event bus delivers that message's event again
    And "alice" says "I love ramen"
    Then her job is "success" after 0 attempts
    And "alice" has 2 jobs
    And "alice" has 2 memories

  Scenario: A user who turned memory off gets no memories, but the job succeeds
    Given "alice" turned her memory off
    When "alice" says "I love sushi"
    Then her job is "success" after 0 attempts
    And "alice" has no memories

  Scenario: An assistant message creates no job
    When "alice" has this conversation:
      | role      | content                  |
      | user      | what's the weather?      |
      | assistant | You love sushi, I recall |
    Then the assistant turn is not queued for extraction
    And her job is "success" after 0 attempts
    And "alice" has 1 job
    And "alice" has no memories

  @e2e
  Scenario: With separate processes, a message becomes a memory
    When "alice" says "I love sushi"
    Then her job is "success" after 0 attempts
    And "alice" has the preference "I love sushi", made by her job

  @e2e
  Scenario: With separate processes, a job whose worker died is rescued and finished
    Given a worker took "alice"'s message "I love sushi" and died
    Then her job is "success" after 1 attempt
    And "alice" has the preference "I love sushi", made by her job

  @e2e
  Scenario: With separate processes, a job dead after its last attempt is replayed by an operator
    Given a worker took "alice"'s message "I love sushi" on its last attempt and died
    Then her job is "dead" after 3 attempts
    And its last error says "lease expired"
    When an operator retries her job because "the worker host is back"
    Then her job is "success" after 0 attempts
    And "alice" has the preference "I love sushi", made by her job
