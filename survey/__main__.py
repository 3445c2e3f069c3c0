from survey.cli.main import main

if __name__ == "__main__":  # not when a spawned scan worker imports this module
    main()
