"""What the tests share: the program under mocks (harness), scratch hosts for the scripts (deploy_host),
throwaway servers (postgres, sshd, fake_supabase, dynamic_host), the real CLI on a throwaway project
(workspace), the hostile values and the model walk that places them (hostile, model_walk)."""
