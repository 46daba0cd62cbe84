from gatehouse_cli.commands import main

main()
