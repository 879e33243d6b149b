Feature: memvault remembers what the user asks it to, never a secret, and says what it did
  An explicit request to remember is consent: it stores a personal fact (health, money,
  contact) even with sensitive memory off, the default. A personal fact only mentioned
  in passing is not stored with the defaults. A secret (password, card or account
  number, key, government id) is never stored, by any path. Each job lists what it did
  with every fact it read, and why. A fact that expired can be learned again, and a
  relation judge that fails makes the job retry rather than add a duplicate. Every
  scenario runs offline (rule-based extractor, deterministic judge) and with an LLM (a
  scripted OpenAI-compatible model), except those tagged "llm", and the one tagged
  "gate": offline with the local e5 embedder, whose vectors the learned gate reads (the
  other stacks use the hashing embedder, with which the gate is off).

  Background:
    Given the memvault API is running
    And "alice" has a token

  Scenario Outline: An explicit request to remember a health fact is kept with the default settings
    When "alice" says "<message>"
    Then "alice" has exactly one current memory, the one from "<message>"
    And it says what was read in "<message>"
    And the job of "<message>" shows the outcome "added"

    Examples:
      | message                                 |
      | Remember that I am allergic to peanuts. |
      | 记住：我对花生过敏。                    |

  Scenario: A health fact mentioned in passing is not kept with the default settings
    When "alice" says "I am allergic to peanuts"
    Then "alice" has no current memory
    And the job of "I am allergic to peanuts" shows the outcome "skipped: sensitive"

  Scenario: A password is never stored in clear
    When "alice" says "my bank card password is 4512"
    Then "alice" has no current memory
    And the job of "my bank card password is 4512" shows the outcome "skipped: secret"
    And no job of "alice" mentions "4512"
    And writing the memory "my bank card password is 4512" directly is refused as a secret

  Scenario: Each job shows what happened to each fact
    When "alice" says "I love sushi"
    And "alice" says "Sushi is my favourite food"
    Then the job of "I love sushi" shows the outcome "added"
    And the job of "Sushi is my favourite food" shows the outcome "duplicate"

  Scenario: A fact that expired is learned again
    Given "alice" had the memory read in "My dog is called Rex", expired
    When "alice" says "My dog is called Rex"
    Then "alice" has exactly one current memory, the one from "My dog is called Rex"
    And the job of "My dog is called Rex" shows the outcome "added"
    And the expired memory is "deleted"

  @llm
  Scenario: A failing relation judge makes the job retry instead of adding a duplicate
    When "alice" says "I love sushi"
    And the judge fails once, then "alice" says "I love jazz"
    Then the job of "I love jazz" took more than one attempt
    And the job of "I love jazz" shows the outcome "added"

  @gate
  Scenario: A habit said in passing, which no rule reads, is remembered by the learned gate
    When "alice" says "Saturdays are for the farmers market and a long bike ride, that's my routine"
    Then "alice" has exactly one current memory, the one from "Saturdays are for the farmers market and a long bike ride, that's my routine"
    And it says what was read in "Saturdays are for the farmers market and a long bike ride, that's my routine"
    And the job of "Saturdays are for the farmers market and a long bike ride, that's my routine" shows the outcome "added"
