Feature: What memvault remembers stays consistent as the user keeps talking
  Facts read from chat turns are compared with the memories the user already has:
  a change of mind replaces the old memory, a restatement adds nothing, a more
  precise statement updates the memory in place, and messages sent at the same
  moment never remember the same thing twice. Each turn comes from a different
  conversation. Every scenario runs offline (rule-based extractor, deterministic
  judge) and with an LLM (a scripted OpenAI-compatible model), except those tagged
  "llm", which need a model to merge text.

  Background:
    Given the memvault API is running
    And "alice" has a token

  Scenario Outline: A change of mind replaces the old memory and the audit says why
    When "alice" says "<before>"
    And "alice" says "<after>"
    Then "alice" has exactly one current memory, the one from "<after>"
    And it says what was read in "<after>"
    And the memory from "<before>" is "deleted"
    And the history of the memory from "<before>" ends with a "delete" whose reason names the conflict over "<subject>"

    Examples:
      | before       | after                      | subject |
      | I love sushi | I don't like sushi anymore | sushi   |
      | 我喜欢喝咖啡 | 我不再喜欢喝咖啡了         | 咖啡    |

  Scenario Outline: The same taste said twice in other words is remembered once
    When "alice" says "<first>"
    And "alice" says "<second>"
    Then "alice" has exactly one current memory, the one from "<first>"
    And it says what was read in "<first>"
    And the history of the memory from "<first>" shows "create"

    Examples:
      | first        | second                     |
      | I love sushi | Sushi is my favourite food |
      | 我喜欢喝绿茶 | 我特别喜欢绿茶             |

  @llm
  Scenario: A more precise statement updates the memory in place
    Given "alice" lets memvault remember sensitive facts
    When "alice" says "I live in Lyon"
    And "alice" says "I moved to the Croix-Rousse district of Lyon"
    Then "alice" has exactly one current memory, the one from "I live in Lyon"
    And it now says "The user lives in Lyon, in the Croix-Rousse district"
    And the history of the memory from "I live in Lyon" shows "create, update"
    And the last history entry is a system change whose reason mentions "Croix-Rousse"

  Scenario: Two turns sent in one request are remembered once
    When "alice" sends "I love green tea" and "Green tea is my favourite drink" in one request
    Then "alice" has exactly one current memory, the one from either message

  Scenario: The same words sent from two conversations at the same moment are remembered once
    When "alice" says "I love jazz" in two conversations at the same moment
    Then "alice" has exactly one current memory, the one from either message
